import type { Bench } from "../lib/context.js";
import { ensureEventPartitions, openMigratedPgStore } from "../lib/pg-bench-store.js";
import type { ClientRun, PgClientName } from "../lib/pg-clients.js";
import { createDatabase, dropDatabase } from "../lib/pg-server.js";
import { spawnPgChild } from "../lib/pg-spawn.js";
import type { Worker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";

const CONCURRENCY = 16;
const TOPIC = "bench.client";
/** Events the point SELECTs choose from, filled by SQL like the pg-query bench's. */
const SELECT_EVENTS = 100_000;
/** Seq values covered by event partitions before the appends, more than any round stores. */
const PARTITIONS_AHEAD = 20_000_000;

interface Round {
  append1: ClientRun;
  append500: ClientRun;
  select: ClientRun;
}

/**
 * The choice of PostgreSQL client library, by measurement: the same workloads through node-postgres (`pg`, which the
 * store uses) and porsager's `postgres`, each in a process of its own, ABBA. (a) The store's append shape: BEGIN and
 * the advisory lock as one simple query, the store's unnest INSERT (1 event, then 500 events), COMMIT; 16
 * transactions at a time; events/s. (b) Point SELECTs by id (the store's getEvent), 16 at a time; queries/s. Each
 * library uses prepared statements and reads int8 as numbers, as the store does. Each round appends into a fresh
 * database; the SELECTs read one database of 100,000 events shared by both libraries.
 */
export const pgClientBench: Bench = {
  name: "pg-client",
  title: "PostgreSQL client libraries: pg vs postgres (porsager)",
  async run(ctx) {
    const durationS = ctx.quick ? 2 : 8;
    const warmupS = ctx.quick ? 1 : 2;
    const dataJson = Array.from({ length: 500 }, (_, n) => JSON.stringify({ msg: "data", n, timestamp: "1700000000" }));
    const children: Partial<Record<PgClientName, Worker>> = {};
    const rounds: Record<PgClientName, Round[]> = { pg: [], postgres: [] };
    const selectDb = `switchboard_bench_pg_client_select_${process.pid}`;
    try {
      children.pg = await spawnPgChild("pg client");
      children.postgres = await spawnPgChild("postgres client");
      const end = Date.UTC(2025, 0, 31);
      await children.pg.call(
        "prefill",
        { database: selectDb, count: SELECT_EVENTS, topics: [TOPIC], end, spanMs: 24 * 3600_000, cache: false, logPrefix: "  [pg-client] " },
        300_000,
      );
      let round = 0;
      for (const kind of interleave<PgClientName>("pg", "postgres", ctx.rounds)) {
        round++;
        const child = children[kind]!;
        const database = `switchboard_bench_pg_client_${kind}_${round}_${process.pid}`;
        const url = await createDatabase(database);
        try {
          // The schema and partitions are made here, so the child loads no other client library than its own.
          const store = await openMigratedPgStore(url);
          try {
            await ensureEventPartitions(store, PARTITIONS_AHEAD);
          } finally {
            await store.close();
          }
          const common = { client: kind, database, concurrency: CONCURRENCY, durationS, warmupS, topic: TOPIC, dataJson };
          const append1 = await child.call<ClientRun>("clientAppend", { ...common, eventsPerTx: 1 });
          const append500 = await child.call<ClientRun>("clientAppend", { ...common, eventsPerTx: 500 });
          const select = await child.call<ClientRun>("clientSelect", { client: kind, database: selectDb, concurrency: CONCURRENCY, durationS, warmupS });
          rounds[kind].push({ append1, append500, select });
          const text = (r: ClientRun, unit: string) =>
            `${Math.round(r.perSec)} ${unit} (p50 ${r.latency.p50.toFixed(2)} ms; cpu client ${r.clientCpuPct.toFixed(0)}%, postgres ${r.postgresCpuPct.toFixed(0)}%)`;
          ctx.log(`${kind.padEnd(8)} append 1: ${text(append1, "ev/s")}; append 500: ${text(append500, "ev/s")}; select: ${text(select, "q/s")}`);
        } finally {
          await dropDatabase(database);
        }
      }
    } finally {
      await Promise.all(Object.values(children).map((c) => c.close()));
      await dropDatabase(selectDb);
    }
    const best = (k: PgClientName, part: keyof Round) => rounds[k].map((r) => r[part]).reduce((a, b) => (b.perSec > a.perSec ? b : a));
    // Client CPU per operation: the library's own cost, steadier than the rates on a shared machine.
    const cpuUs = (r: ClientRun) => (r.clientCpuPct * 1e4) / r.opsPerSec;
    const make = (part: keyof Round, metric: string, unit: string) => {
      const candidate = best("postgres", part);
      const current = best("pg", part);
      return row({
        bench: "pg-client",
        metric,
        unit,
        hub: candidate.perSec,
        baseline: current.perSec,
        target: null,
        note:
          `client CPU per ${part === "select" ? "query" : "transaction"}: postgres ${cpuUs(candidate).toFixed(0)} µs, pg ${cpuUs(current).toFixed(0)} µs; ` +
          `PostgreSQL cpu: postgres ${candidate.postgresCpuPct.toFixed(0)}%, pg ${current.postgresCpuPct.toFixed(0)}%; ` +
          `p50: postgres ${candidate.latency.p50.toFixed(2)} ms, pg ${current.latency.p50.toFixed(2)} ms`,
      });
    };
    return {
      rows: [
        make("append1", `append tx of 1 event, ${CONCURRENCY} at a time: postgres (vs pg)`, "ev/s"),
        make("append500", `append tx of 500 events, ${CONCURRENCY} at a time: postgres (vs pg)`, "ev/s"),
        make("select", `point SELECT by id, ${CONCURRENCY} at a time: postgres (vs pg)`, "q/s"),
      ],
      details: { concurrency: CONCURRENCY, durationS, warmupS, selectEvents: SELECT_EVENTS, rounds },
    };
  },
};
