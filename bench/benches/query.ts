import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import type { QueryWindow } from "../lib/event-log.js";
import { spawnWorker, startHub } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave, seededRandom, type Summary } from "../lib/stats.js";

const TOPICS = Array.from({ length: 20 }, (_, i) => `bench.topic.${String(i).padStart(2, "0")}`);
const SPAN_MS = 30 * 24 * 3600_000;
const WINDOW_MS = 3600_000;
const LIMIT = 100;

interface QueryRun {
  latency: Summary;
  meanRows: number;
}

function windows(count: number, end: number, seed: number): QueryWindow[] {
  const random = seededRandom(seed);
  const start = end - SPAN_MS;
  return Array.from({ length: count }, () => {
    const from = Math.floor(start + random() * (SPAN_MS - WINDOW_MS));
    return { topic: TOPICS[Math.floor(random() * TOPICS.length)]!, from, to: from + WINDOW_MS };
  });
}

/**
 * Bench 6: `GET /api/events?topic=X&from=…&to=…&limit=100` over 1,000,000 stored events (20 topics, 30 days),
 * random 1-hour windows, one request at a time, timed by the client. Baseline: the same SQL on better-sqlite3,
 * prepared once, in a bench process with its own connection to the same file (no HTTP, no JSON).
 */
export const queryBench: Bench = {
  name: "query",
  title: "time-range query at 1M events",
  async run(ctx) {
    const count = ctx.quick ? 100_000 : 1_000_000;
    const queries = ctx.quick ? 300 : 2000;
    const warmup = ctx.quick ? 30 : 200;
    const end = Date.UTC(2025, 0, 31);
    const path = join(ctx.freshDir("query"), "hub.db");
    const ws = windows(warmup + queries, end, 2);
    const paths = ws.map((w) => `/api/events?topic=${w.topic}&from=${w.from}&to=${w.to}&limit=${LIMIT}`);
    const runs: Record<"hub" | "baseline", QueryRun[]> = { hub: [], baseline: [] };
    let plan: string[] = [];
    let prefillS = 0;

    const client = await spawnWorker("client");
    const direct = await spawnWorker("sqlite-baseline");
    try {
      ({ seconds: prefillS } = await direct.call<{ seconds: number }>("prefill", { path, count, topics: TOPICS, end, spanMs: SPAN_MS, seed: 1 }, 300_000));
      ctx.log(`prefilled ${count.toLocaleString("en-US")} events in ${prefillS.toFixed(1)} s`);
      const server = await startHub({ databasePath: path, cpuProfDir: ctx.profileDir("query-hub") });
      try {
        for (const kind of interleave<"hub" | "baseline">("baseline", "hub", ctx.rounds)) {
          let r: QueryRun;
          if (kind === "hub") {
            r = await client.call<QueryRun>("queries", { origin: server.origin, paths, warmup, maxMs: 120_000 }, 180_000);
          } else {
            const d = await direct.call<QueryRun & { plan: string[] }>("queryDirect", { path, windows: ws, limit: LIMIT, warmup }, 180_000);
            plan = d.plan;
            r = { latency: d.latency, meanRows: d.meanRows };
          }
          runs[kind].push(r);
          ctx.log(
            `${kind.padEnd(8)} p50 ${r.latency.p50.toFixed(2)} ms, p99 ${r.latency.p99.toFixed(2)} ms (${r.latency.count} queries, ${r.meanRows.toFixed(1)} rows each)`,
          );
        }
      } finally {
        await server.stop();
      }
    } finally {
      await Promise.all([client.close(), direct.close()]);
    }
    const best = (k: "hub" | "baseline") => runs[k].reduce((a, b) => (b.latency.p50 < a.latency.p50 ? b : a));
    const hub = best("hub");
    const base = best("baseline");
    const label = count >= 1e6 ? `${count / 1e6}M` : `${count / 1e3}k`;
    return {
      rows: [
        row({
          bench: "query",
          metric: `topic + 1 h range, limit ${LIMIT}, ${label} events: p50 (vs direct SQL)`,
          unit: "ms",
          hub: hub.latency.p50,
          baseline: base.latency.p50,
          target: { on: "hub", op: "<=", value: 20 },
          note: `${hub.meanRows.toFixed(0)} rows per answer; plan: ${plan.join("; ")}`,
        }),
        row({
          bench: "query",
          metric: `topic + 1 h range, ${label} events: p99`,
          unit: "ms",
          hub: hub.latency.p99,
          baseline: base.latency.p99,
          target: null,
        }),
      ],
      details: { events: count, topics: TOPICS.length, spanDays: 30, windowMs: WINDOW_MS, limit: LIMIT, queries, warmup, prefillS, plan, runs },
    };
  },
};
