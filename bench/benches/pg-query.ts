import type { Bench } from "../lib/context.js";
import type { QueryWindow } from "../lib/event-log.js";
import type { PgPrefillResult, PgQueryDirectResult } from "../lib/pg-event-log.js";
import { startPgHub } from "../lib/pg-hub.js";
import { databaseUrl } from "../lib/pg-server.js";
import { spawnPgChild } from "../lib/pg-spawn.js";
import { spawnWorker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave, seededRandom, type Summary } from "../lib/stats.js";

const TOPICS = Array.from({ length: 20 }, (_, i) => `bench.topic.${String(i).padStart(2, "0")}`);
const SPAN_MS = 30 * 24 * 3600_000;
const WINDOW_MS = 3600_000;
const LIMIT = 100;

interface QueryRun {
  latency: Summary;
  meanRows: number;
  /** The baseline's other passes: the same SQL as a prepared statement, and with `topic = ANY($1::text[])`. */
  prepared?: Summary;
  anyTopic?: Summary;
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
 * `GET /api/events?topic=X&from=…&to=…&limit=100` over 10,000,000 events stored in PostgreSQL (20 topics, 30 days),
 * random 1-hour windows, one request at a time, timed by the client, as the `query` bench does on SQLite. Baseline:
 * the same SQL with the same parameters on node-postgres, from a bench process with its own connection. The filled
 * database is kept between runs (see prefillPgEvents) and read into the OS cache before the queries.
 */
export const pgQueryBench: Bench = {
  name: "pg-query",
  title: "time-range query at 10M events on PostgreSQL",
  async run(ctx) {
    const count = ctx.quick ? 100_000 : 10_000_000;
    const label = count >= 1e6 ? `${count / 1e6}M` : `${count / 1e3}k`;
    const database = `switchboard_bench_query${label.toLowerCase()}`;
    const queries = ctx.quick ? 300 : 2000;
    const warmup = ctx.quick ? 30 : 200;
    const end = Date.UTC(2025, 0, 31);
    const ws = windows(warmup + queries, end, 2);
    const paths = ws.map((w) => `/api/events?topic=${w.topic}&from=${w.from}&to=${w.to}&limit=${LIMIT}`);
    const runs: Record<"hub" | "baseline", QueryRun[]> = { hub: [], baseline: [] };
    let plan: string[] = [];
    let anyTopicPlan: string[] = [];

    const client = await spawnWorker("client");
    const direct = await spawnPgChild("pg direct query");
    let prefill: PgPrefillResult;
    try {
      prefill = await direct.call<PgPrefillResult>(
        "prefill",
        { database, count, topics: TOPICS, end, spanMs: SPAN_MS, cache: true, logPrefix: `  [pg-query] ` },
        30 * 60_000,
      );
      ctx.log(
        `${prefill.reused ? `using the filled database ${database}` : `filled ${database} in ${prefill.fillS.toFixed(0)} s`} ` +
          `(schema version ${prefill.schemaVersion}); ${prefill.prewarm} in ${prefill.prewarmS.toFixed(1)} s`,
      );
      const server = await startPgHub(ctx, "pg-query-hub", databaseUrl(database));
      try {
        for (const kind of interleave<"hub" | "baseline">("baseline", "hub", ctx.rounds)) {
          let r: QueryRun;
          if (kind === "hub") {
            r = await client.call<QueryRun>("queries", { origin: server.origin, paths, warmup, maxMs: 120_000 }, 180_000);
          } else {
            const d = await direct.call<PgQueryDirectResult>("queryDirect", { database, windows: ws, limit: LIMIT, warmup }, 240_000);
            ({ plan, anyTopicPlan } = d);
            r = { latency: d.latency, meanRows: d.meanRows, prepared: d.prepared, anyTopic: d.anyTopic };
          }
          runs[kind].push(r);
          ctx.log(
            `${kind.padEnd(8)} p50 ${r.latency.p50.toFixed(2)} ms, p99 ${r.latency.p99.toFixed(2)} ms (${r.latency.count} queries, ${r.meanRows.toFixed(1)} rows each)` +
              (r.prepared && r.anyTopic
                ? `; prepared: p50 ${r.prepared.p50.toFixed(2)} ms, p99 ${r.prepared.p99.toFixed(2)} ms; topic = ANY($1): p50 ${r.anyTopic.p50.toFixed(2)} ms, p99 ${r.anyTopic.p99.toFixed(2)} ms`
                : ""),
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
    return {
      rows: [
        row({
          bench: "pg-query",
          metric: `topic + 1 h range, limit ${LIMIT}, ${label} events, PostgreSQL: p50 (vs direct SQL)`,
          unit: "ms",
          hub: hub.latency.p50,
          baseline: base.latency.p50,
          target: { on: "hub", op: "<=", value: 20 },
          note:
            `${hub.meanRows.toFixed(0)} rows per answer; direct, prepared: p50 ${base.prepared!.p50.toFixed(2)} ms; direct with topic = ANY($1) (as before): ` +
            `p50 ${base.anyTopic!.p50.toFixed(2)} ms, plan: ${anyTopicPlan.join("; ")}; the store's plan: ${plan.join("; ")}`,
        }),
        row({
          bench: "pg-query",
          metric: `topic + 1 h range, ${label} events, PostgreSQL: p99`,
          unit: "ms",
          hub: hub.latency.p99,
          baseline: base.latency.p99,
          target: null,
        }),
      ],
      details: {
        events: count,
        database,
        topics: TOPICS.length,
        spanDays: 30,
        windowMs: WINDOW_MS,
        limit: LIMIT,
        queries,
        warmup,
        prefill: prefill!,
        plan,
        anyTopicPlan,
        runs,
      },
    };
  },
};
