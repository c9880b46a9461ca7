import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { spawnWorker, startBaselineServer, startHub, type Worker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { SseRunResult } from "../worker.js";

type Kind = "hub" | "baseline";

/** Opens `count` streams on the client, runs `sseRun`, closes them. */
export async function measureStreams(
  client: Worker,
  origin: string,
  count: number,
  run: { events: number; warmup: number; gapMs: number; maxMs: number; frameTimeoutMs: number },
): Promise<SseRunResult & { openMs: number }> {
  const { ms } = await client.call<{ ms: number }>("openStreams", { origin, path: "/events", count, concurrency: Math.min(count, 100), measure: true });
  try {
    return { ...(await client.call<SseRunResult>("sseRun", { origin, ...run }, run.maxMs + 30_000)), openMs: ms };
  } finally {
    await client.call("closeStreams", null);
  }
}

/**
 * Bench 3: POST → SSE frame latency with 1 and with 100 streams on `GET /events`. Events are posted one at a
 * time; each carries its send time, and the next is sent once it reached every stream (and its 201 came back).
 * The baseline is the bare node:http server relaying the parsed body to its streams before answering.
 */
export const sseLatencyBench: Bench = {
  name: "sse",
  title: "POST → SSE frame latency",
  async run(ctx) {
    const plans = [
      { streams: 1, events: ctx.quick ? 300 : 2000, warmup: ctx.quick ? 50 : 200 },
      { streams: 100, events: ctx.quick ? 50 : 300, warmup: ctx.quick ? 10 : 30 },
    ];
    const client = await spawnWorker("client");
    const runs: Record<Kind, Record<number, SseRunResult[]>> = { hub: { 1: [], 100: [] }, baseline: { 1: [], 100: [] } };
    try {
      let round = 0;
      for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
        round++;
        const server =
          kind === "hub"
            ? await startHub({ databasePath: join(ctx.freshDir(`sse-hub-${round}`), "hub.db"), cpuProfDir: ctx.profileDir(`sse-hub-${round}`) })
            : await startBaselineServer();
        try {
          for (const plan of plans) {
            const r = await measureStreams(client, server.origin, plan.streams, {
              events: plan.events,
              warmup: plan.warmup,
              gapMs: 0,
              maxMs: 60_000,
              frameTimeoutMs: 5_000,
            });
            runs[kind][plan.streams]!.push(r);
            ctx.log(
              `${kind.padEnd(8)} ${String(plan.streams).padStart(3)} stream(s): p50 ${r.perFrame.p50.toFixed(2)} ms, p99 ${r.perFrame.p99.toFixed(2)} ms ` +
                `(${r.perFrame.count} frames, all-streams p50 ${r.allStreams.p50.toFixed(2)} ms, client cpu ${r.clientCpuPct.toFixed(0)}%)`,
            );
          }
        } finally {
          await server.stop();
        }
      }
    } finally {
      await client.close();
    }
    // Per arm and stream count, the round with the lowest p50 (its p99 reported with it).
    const best = (kind: Kind, streams: number) => runs[kind][streams]!.reduce((a, b) => (b.perFrame.p50 < a.perFrame.p50 ? b : a));
    const rows = [];
    for (const plan of plans) {
      const hub = best("hub", plan.streams);
      const base = best("baseline", plan.streams);
      const label = `${plan.streams} stream${plan.streams > 1 ? "s" : ""}`;
      rows.push(
        row({
          bench: "sse",
          metric: `POST→frame p50, ${label} (vs bare node:http relay)`,
          unit: "ms",
          hub: hub.perFrame.p50,
          baseline: base.perFrame.p50,
          target: plan.streams === 1 ? { on: "hub", op: "<=", value: 2 } : null,
          note: `${hub.perFrame.count} frames; POST→201 p50 ${hub.post.p50.toFixed(2)} ms`,
        }),
        row({
          bench: "sse",
          metric: `POST→frame p99, ${label}`,
          unit: "ms",
          hub: hub.perFrame.p99,
          baseline: base.perFrame.p99,
          target: plan.streams === 1 ? { on: "hub", op: "<=", value: 10 } : null,
          note:
            plan.streams > 1 ? `last of ${plan.streams} streams: p50 ${hub.allStreams.p50.toFixed(2)} ms, p99 ${hub.allStreams.p99.toFixed(2)} ms` : undefined,
        }),
      );
    }
    return { rows, details: { plans, runs } };
  },
};
