import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { readRssKiB, requestGc, sleep, spawnWorker, startBaselineServer, startHub, type ServerProcess, type Worker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave, median } from "../lib/stats.js";
import type { BurstResult, SseRunResult } from "../worker.js";
import { measureStreams } from "./sse-latency.js";

type Kind = "hub" | "baseline";
const STREAMS = 10_000;

interface FanoutRound {
  openMs: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  perStreamKiB: number;
  /** Per posted event: POST sent → the last of the 10,000 streams read its frame, ms. */
  allStreams: SseRunResult["allStreams"];
  perFrame: SseRunResult["perFrame"];
  /** The 10,000 streams connecting at once, after the others closed. */
  burst: BurstResult;
}

/** RSS after a forced GC and a settle: the median of five samples 200 ms apart. */
async function settledRss(server: ServerProcess): Promise<number> {
  requestGc(server.pid);
  await sleep(1000);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(readRssKiB(server.pid));
    await sleep(200);
  }
  return median(samples);
}

/**
 * All 10,000 streams connecting at once, on a server with no stream open: time until every one has its response
 * headers. Fails the round if any stream did not open.
 */
async function connectBurst(client: Worker, server: ServerProcess): Promise<BurstResult> {
  const r = await client.call<BurstResult>("connectBurst", { origin: server.origin, path: "/events", count: STREAMS, timeoutMs: 30_000 }, 90_000);
  if (r.ok !== STREAMS) throw new Error(`${STREAMS - r.ok} of ${STREAMS} streams connecting at once did not open: ${r.firstError}`);
  return r;
}

async function fanoutRound(client: Worker, server: ServerProcess, posts: number): Promise<FanoutRound> {
  // Warm the stream and publish paths, so what follows measures streams and not first-use allocations.
  await measureStreams(client, server.origin, 100, { events: 20, warmup: 0, gapMs: 0, maxMs: 10_000, frameTimeoutMs: 5_000 });
  await sleep(500);
  const rssBeforeKiB = await settledRss(server);
  const { ms: openMs } = await client.call<{ ms: number }>(
    "openStreams",
    { origin: server.origin, path: "/events", count: STREAMS, concurrency: 100, measure: true },
    120_000,
  );
  let rssAfterKiB: number;
  let r: SseRunResult;
  try {
    await sleep(1000);
    rssAfterKiB = await settledRss(server);
    r = await client.call<SseRunResult>(
      "sseRun",
      { origin: server.origin, events: posts, warmup: 1, gapMs: 300, maxMs: 60_000, frameTimeoutMs: 10_000 },
      90_000,
    );
  } finally {
    await client.call("closeStreams", null);
  }
  // Let the server see every close before the burst.
  await sleep(2000);
  const burst = await connectBurst(client, server);
  return {
    openMs,
    rssBeforeKiB,
    rssAfterKiB,
    perStreamKiB: (rssAfterKiB - rssBeforeKiB) / STREAMS,
    allStreams: r.allStreams,
    perFrame: r.perFrame,
    burst,
  };
}

/**
 * Bench 4: one event to 10,000 SSE streams. Time from sending the POST until all 10,000 streams have read the
 * frame (median over the posted events), and server memory per stream: RSS with 10,000 idle streams minus RSS
 * before, each after a forced GC and a settle, over 10,000. Baseline: the bare node:http relay.
 */
export const fanoutBench: Bench = {
  name: "fanout",
  title: "one event to 10,000 streams",
  async run(ctx) {
    const posts = ctx.quick ? 2 : 5;
    const client = await spawnWorker("client");
    const runs: Record<Kind, FanoutRound[]> = { hub: [], baseline: [] };
    try {
      let round = 0;
      for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
        round++;
        const server =
          kind === "hub"
            ? await startHub({ databasePath: join(ctx.freshDir(`fanout-hub-${round}`), "hub.db"), cpuProfDir: ctx.profileDir(`fanout-hub-${round}`) })
            : await startBaselineServer();
        try {
          const r = await fanoutRound(client, server, posts);
          runs[kind].push(r);
          ctx.log(
            `${kind.padEnd(8)} all ${STREAMS} streams: p50 ${r.allStreams.p50.toFixed(1)} ms, max ${r.allStreams.max.toFixed(1)} ms over ${r.allStreams.count} events; ` +
              `RSS ${Math.round(r.rssBeforeKiB / 1024)} → ${Math.round(r.rssAfterKiB / 1024)} MiB = ${r.perStreamKiB.toFixed(2)} KiB/stream; opened in ${(r.openMs / 1000).toFixed(1)} s`,
          );
          ctx.log(`${kind.padEnd(8)} ${burstLine(r.burst)}`);
        } finally {
          await server.stop();
        }
      }
    } finally {
      await client.close();
    }
    // Time: the best round's median. Memory: the larger of the rounds (conservative).
    const time = (k: Kind) => Math.min(...runs[k].map((r) => r.allStreams.p50));
    const mem = (k: Kind) => Math.max(...runs[k].map((r) => r.perStreamKiB));
    const worst = Math.max(...runs.hub.map((r) => r.allStreams.max));
    // Connecting: the best round, as for throughput (a busy machine only slows it).
    const burst = (k: Kind) => runs[k].reduce((a, b) => (b.burst.allHeadersMs < a.burst.allHeadersMs ? b : a)).burst;
    return {
      rows: [
        row({
          bench: "fanout",
          metric: `1 event → all ${STREAMS.toLocaleString("en-US")} streams (median of ${posts})`,
          unit: "ms",
          hub: time("hub"),
          baseline: time("baseline"),
          target: { on: "hub", op: "<=", value: 100 },
          note: `hub worst event ${worst.toFixed(1)} ms`,
        }),
        row({
          bench: "fanout",
          metric: `server RSS per idle stream (Δ at ${STREAMS.toLocaleString("en-US")})`,
          unit: "KiB",
          hub: mem("hub"),
          baseline: mem("baseline"),
          target: { on: "hub", op: "<=", value: 8 },
        }),
        row({
          bench: "fanout",
          metric: `${STREAMS.toLocaleString("en-US")} streams connecting at once: all response headers`,
          unit: "ms",
          hub: burst("hub").allHeadersMs,
          baseline: burst("baseline").allHeadersMs,
          target: { on: "hub", op: "<=", value: 1500 },
          note: `hub: ${burstLine(burst("hub"))}; baseline: ${burstLine(burst("baseline"))}`,
        }),
      ],
      details: { streams: STREAMS, posts, runs },
    };
  },
};

function burstLine(b: BurstResult): string {
  return (
    `${b.count} connecting at once: all headers in ${b.allHeadersMs.toFixed(0)} ms (per stream p50 ${b.headers.p50.toFixed(0)} ms; ` +
    `connect p50/max ${b.connect.p50.toFixed(0)}/${b.connect.max.toFixed(0)} ms, then headers p50/max ${b.serve.p50.toFixed(0)}/${b.serve.max.toFixed(0)} ms; ` +
    `client issued the connects in ${b.issueMs.toFixed(0)} ms, cpu ${b.clientCpuPct.toFixed(0)}%)`
  );
}
