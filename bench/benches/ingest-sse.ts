import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";
import { POST_CONNECTIONS, SMALL_EVENT } from "./ingest.js";

type Arm = "none" | "streams";
const STREAMS = 100;

/**
 * Bench 5: single-event POST rate with 100 SSE streams open vs none, on the same hub with the same client. The
 * streams are held and drained by a separate reader process (it only counts bytes), present in both arms.
 */
export const ingestSseBench: Bench = {
  name: "ingest-sse",
  title: "POST rate with 100 open streams vs none",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 3;
    const runs: Record<Arm, (LoadResult & { serverCpuPct: number; readerCpuPct: number; otherCpuPct: number; streamBytes: number })[]> = {
      none: [],
      streams: [],
    };
    const client = await spawnWorker("client");
    const reader = await spawnWorker("reader");
    const server = await startHub({ databasePath: join(ctx.freshDir("ingest-sse-hub"), "hub.db"), cpuProfDir: ctx.profileDir("ingest-sse-hub") });
    try {
      const load = { url: `${server.origin}/api/events`, body: SMALL_EVENT, connections: POST_CONNECTIONS, pipelining: 1 };
      await client.call("load", { ...load, durationS: warmupS });
      for (const arm of interleave<Arm>("none", "streams", ctx.rounds)) {
        if (arm === "streams") {
          await reader.call("openStreams", { origin: server.origin, path: "/events", count: STREAMS, concurrency: STREAMS, measure: false });
        }
        const cpu = await withCpu([server.pid, reader.pid, client.pid], () => client.call<LoadResult>("load", { ...load, durationS }));
        const { bytes } = await reader.call<{ bytes: number }>("closeStreams", null);
        const r = {
          ...cpu.result,
          serverCpuPct: cpu.pct[0]!,
          readerCpuPct: cpu.pct[1]!,
          clientCpuPct: cpu.pct[2]!,
          otherCpuPct: cpu.otherPct,
          streamBytes: bytes,
        };
        runs[arm].push(r);
        ctx.log(
          `${arm === "none" ? "0 streams" : `${STREAMS} streams`}`.padEnd(12) +
            `${Math.round(r.okPerSec)} req/s (p99 ${r.latencyP99Ms} ms; cpu: server ${r.serverCpuPct.toFixed(0)}%, client ${r.clientCpuPct.toFixed(0)}%, ` +
            `reader ${r.readerCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%; ${(bytes / 1e6).toFixed(1)} MB streamed)`,
        );
      }
    } finally {
      await server.stop();
      await Promise.all([client.close(), reader.close()]);
    }
    const best = (arm: Arm) => runs[arm].reduce((a, b) => (b.okPerSec > a.okPerSec ? b : a));
    const withStreams = best("streams");
    const without = best("none");
    const cpuUs = (r: { serverCpuPct: number; okPerSec: number }) => (r.serverCpuPct * 1e4) / r.okPerSec;
    return {
      rows: [
        row({
          bench: "ingest-sse",
          metric: `POST req/s with ${STREAMS} SSE streams open (baseline: 0 streams, same hub)`,
          unit: "req/s",
          hub: withStreams.okPerSec,
          baseline: without.okPerSec,
          target: { on: "ratio", op: ">=", value: 0.9 },
          note:
            `cpu with/without streams: server ${withStreams.serverCpuPct.toFixed(0)}/${without.serverCpuPct.toFixed(0)}%, ` +
            `reader ${withStreams.readerCpuPct.toFixed(0)}/${without.readerCpuPct.toFixed(0)}%, others ${withStreams.otherCpuPct.toFixed(0)}/${without.otherCpuPct.toFixed(0)}%`,
        }),
        row({
          bench: "ingest-sse",
          metric: `server CPU per request, ${STREAMS} streams vs 0 (same rounds)`,
          unit: "µs",
          hub: cpuUs(withStreams),
          baseline: cpuUs(without),
          target: null,
          note: `efficiency 0 streams/${STREAMS} streams ${(cpuUs(without) / cpuUs(withStreams)).toFixed(2)}`,
        }),
      ],
      details: { streams: STREAMS, durationS, warmupS, runs },
    };
  },
};
