import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { loadavg } from "node:os";
import { readCpuSeconds, readRssKiB, requestGc, sleep, spawnWorker, startBaselineServer, startHub, type ServerProcess, type Worker } from "../lib/processes.js";
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
  /** The 10,000 streams connecting at once, after the others closed; undefined when some did not open (`burstError`). */
  burst: Burst | undefined;
  burstError?: string;
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
 * headers. Throws if any stream did not open: the round keeps its other figures, and the burst reads as failed.
 */
async function connectBurst(client: Worker, server: ServerProcess): Promise<Burst> {
  const cpu0 = readCpuSeconds(server.pid);
  const r = await client.call<BurstResult>("connectBurst", { origin: server.origin, path: "/events", count: STREAMS, timeoutMs: 30_000 }, 90_000);
  // Read once every stream has its headers (the streams close after): the server's accepts, requests and heads.
  const serverCpuMs = (readCpuSeconds(server.pid) - cpu0) * 1000;
  if (r.ok !== STREAMS) {
    // On loopback a reset here is the kernel's, under a full accept queue: nstat counted as many TcpExtSyncookiesFailed.
    const why = /ECONNRESET/.test(r.firstError ?? "") ? " (the kernel's reset under a full accept queue: see bench/README.md)" : "";
    throw new Error(`${STREAMS - r.ok} of ${STREAMS} streams connecting at once did not open: ${r.firstError}${why}`);
  }
  return { ...r, serverCpuMs, loadAverage: loadavg()[0]! };
}

/** A burst as the client measured it, with the server's CPU over it and the machine's load average after it. */
interface Burst extends BurstResult {
  serverCpuMs: number;
  loadAverage: number;
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
  // A burst that failed leaves the round's other figures standing.
  let burst: Burst | undefined;
  let burstError: string | undefined;
  try {
    burst = await connectBurst(client, server);
  } catch (error) {
    burstError = (error as Error).message;
  }
  return {
    openMs,
    rssBeforeKiB,
    rssAfterKiB,
    perStreamKiB: (rssAfterKiB - rssBeforeKiB) / STREAMS,
    allStreams: r.allStreams,
    perFrame: r.perFrame,
    burst,
    burstError,
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
          ctx.log(`${kind.padEnd(8)} ${r.burst ? burstLine(r.burst) : `connecting at once FAILED: ${r.burstError}`}`);
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
    // Connecting: the best round, as for throughput (a busy machine only slows it); none when every round failed.
    const burst = (k: Kind): Burst | undefined =>
      runs[k].reduce<Burst | undefined>((a, r) => (r.burst && (!a || r.burst.allHeadersMs < a.allHeadersMs) ? r.burst : a), undefined);
    const burstNote = (k: Kind) => {
      const b = burst(k);
      return b ? burstLine(b) : `every round failed: ${runs[k].find((r) => r.burstError)?.burstError}`;
    };
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
          hub: burst("hub")?.allHeadersMs ?? NaN,
          baseline: burst("baseline")?.allHeadersMs ?? NaN,
          target: { on: "hub", op: "<=", value: 1500 },
          note: `hub: ${burstNote("hub")}; baseline: ${burstNote("baseline")}`,
        }),
      ],
      details: { streams: STREAMS, posts, runs },
    };
  },
};

function burstLine(b: Burst): string {
  const perStream = (ms: number) => `${((1000 * ms) / b.count).toFixed(0)} µs/stream`;
  const retried = b.synRetried ? `SYN sent again for ${b.synRetried.once} streams once (1 s), ${b.synRetried.more} more often (3 s+); ` : "";
  return (
    `${b.count} connecting at once: all headers in ${b.allHeadersMs.toFixed(0)} ms (per stream p50 ${b.headers.p50.toFixed(0)} ms; ` +
    `connect p50/max ${b.connect.p50.toFixed(0)}/${b.connect.max.toFixed(0)} ms, then headers p50/max ${b.serve.p50.toFixed(0)}/${b.serve.max.toFixed(0)} ms; ${retried}` +
    `client issued the connects in ${b.issueMs.toFixed(0)} ms, cpu ${b.clientCpuPct.toFixed(0)}%: user ${perStream(b.clientUserMs)}, system ${perStream(b.clientSystemMs)}; ` +
    `server cpu ${perStream(b.serverCpuMs)}; load average ${b.loadAverage.toFixed(1)})`
  );
}
