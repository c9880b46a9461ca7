import type { Bench } from "../lib/context.js";
import { hubApi } from "../lib/hub-api.js";
import { startPgHub, withPgCpu } from "../lib/pg-hub.js";
import { createDatabase, dropDatabase } from "../lib/pg-server.js";
import { spawnWorker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";

const BATCH_SIZE = 500;
const CONNECTIONS = 4;
const TOPIC = "bench.batch";
/** One aggregate over every event of the load: a group and three metrics of a data field, per minute. */
const AGGREGATE = { name: "bench", topic: "bench.**", group_by: "data.msg", metrics: ["count", "sum:data.n", "max:data.n"], interval: "1m" };

type Kind = "hub" | "baseline";

interface Run {
  eventsPerSec: number;
  hubCpuPct: number;
  postgresCpuPct: number;
  otherCpuPct: number;
  load: LoadResult;
}

/**
 * What one continuous aggregate costs at commit on PostgreSQL (one more statement per batch): the `pg-batch` load
 * (arrays of 500 events, 4 connections) on a hub with one aggregate defined over every event of the load (hub) against
 * the same hub with none (baseline), ABBA, a fresh database per round (dropped afterwards). Reported: events/s and
 * CPU per event, the hub and PostgreSQL together.
 */
export const pgAggregateCostBench: Bench = {
  name: "pg-aggregate-cost",
  title: "one continuous aggregate's cost on batch ingest, PostgreSQL (one vs none)",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 2;
    const body = JSON.stringify(Array.from({ length: BATCH_SIZE }, (_, n) => ({ topic: TOPIC, data: { msg: "data", n, timestamp: "1700000000" } })));
    const client = await spawnWorker("client");
    const runs: Record<Kind, Run[]> = { hub: [], baseline: [] };
    try {
      let round = 0;
      for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
        round++;
        const database = `switchboard_bench_pg_aggregate_${kind}_${round}_${process.pid}`;
        const url = await createDatabase(database);
        try {
          const server = await startPgHub(ctx, `pg-aggregate-cost-${kind}-${round}`, url);
          try {
            if (kind === "hub") await hubApi(server.origin, "POST", "/api/aggregates", AGGREGATE);
            const load = { url: `${server.origin}/api/events`, body, connections: CONNECTIONS, pipelining: 1 };
            await client.call("load", { ...load, durationS: warmupS });
            const cpu = await withPgCpu([server.pid, client.pid], database, () => client.call<LoadResult>("load", { ...load, durationS }));
            const r: Run = {
              eventsPerSec: cpu.result.okPerSec * BATCH_SIZE,
              hubCpuPct: cpu.pct[0]!,
              postgresCpuPct: cpu.postgresPct,
              otherCpuPct: cpu.otherPct,
              load: cpu.result,
            };
            runs[kind].push(r);
            ctx.log(
              `${kind === "hub" ? "1 aggregate " : "no aggregate"} ${Math.round(r.eventsPerSec)} events/s (non-2xx ${r.load.non2xx}; ` +
                `cpu: hub ${r.hubCpuPct.toFixed(0)}%, postgres ${r.postgresCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%; ` +
                `${cpuUs(r).toFixed(1)} µs per event)`,
            );
          } finally {
            await server.stop();
          }
        } finally {
          await dropDatabase(database);
        }
      }
    } finally {
      await client.close();
    }
    const best = (k: Kind) => runs[k].reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
    const leastCpu = (k: Kind) => Math.min(...runs[k].map(cpuUs));
    const hub = best("hub");
    const base = best("baseline");
    const failures = runs.hub.concat(runs.baseline).reduce((n, r) => n + r.load.non2xx + r.load.errors, 0);
    return {
      rows: [
        row({
          bench: "pg-aggregate-cost",
          metric: `events/s, POST ${BATCH_SIZE}-event arrays x${CONNECTIONS} conns, PostgreSQL, one continuous aggregate (vs none)`,
          unit: "ev/s",
          hub: hub.eventsPerSec,
          baseline: base.eventsPerSec,
          target: null,
          note:
            `cpu hub/postgres: ${hub.hubCpuPct.toFixed(0)}/${hub.postgresCpuPct.toFixed(0)}% (others ${hub.otherCpuPct.toFixed(0)}%), ` +
            `without: ${base.hubCpuPct.toFixed(0)}/${base.postgresCpuPct.toFixed(0)}% (others ${base.otherCpuPct.toFixed(0)}%)` +
            (failures ? `; ${failures} non-2xx or errors` : ""),
        }),
        row({
          bench: "pg-aggregate-cost",
          metric: "CPU per stored event, hub + PostgreSQL, one aggregate (vs none; least of the rounds)",
          unit: "µs",
          hub: leastCpu("hub"),
          baseline: leastCpu("baseline"),
          target: null,
          note: `PostgreSQL alone: ${((hub.postgresCpuPct * 1e4) / hub.eventsPerSec).toFixed(1)} µs with, ${((base.postgresCpuPct * 1e4) / base.eventsPerSec).toFixed(1)} µs without`,
        }),
      ],
      details: { batchSize: BATCH_SIZE, connections: CONNECTIONS, durationS, warmupS, aggregate: AGGREGATE, runs },
    };
  },
};

/** CPU per stored event in µs, the hub and PostgreSQL together. */
function cpuUs(r: Run): number {
  return ((r.hubCpuPct + r.postgresCpuPct) * 1e4) / r.eventsPerSec;
}
