import type { Bench } from "../lib/context.js";
import { startPgHub, withPgCpu } from "../lib/pg-hub.js";
import type { RawPgInsertResult } from "../lib/pg-raw-insert.js";
import { createDatabase, dropDatabase } from "../lib/pg-server.js";
import { spawnPgChild } from "../lib/pg-spawn.js";
import { spawnWorker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";

const BATCH_SIZE = 500;
const CONNECTIONS = 4;
const TOPIC = "bench.batch";

type Kind = "hub" | "baseline";

interface Run {
  eventsPerSec: number;
  /** The hub, or the raw-insert process. */
  processCpuPct: number;
  postgresCpuPct: number;
  /** The load client, for the hub. */
  clientCpuPct?: number;
  otherCpuPct: number;
  load?: LoadResult;
}

/**
 * Batch ingest events/s on PostgreSQL: the hub gets `POST /api/events` with arrays of 500 events from 4
 * connections, as in the `batch` bench; the baseline is a bench process inserting the same rows (same data text,
 * fresh ULIDs) into the same schema (the store's migrations), 500 per transaction as one multi-row INSERT, on one
 * connection. Each arm and round gets a fresh database, dropped afterwards.
 */
export const pgBatchBench: Bench = {
  name: "pg-batch",
  title: "batch ingest events/s on PostgreSQL vs raw multi-row INSERTs",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 2;
    const data = Array.from({ length: BATCH_SIZE }, (_, n) => ({ msg: "data", n, timestamp: "1700000000" }));
    const body = JSON.stringify(data.map((d) => ({ topic: TOPIC, data: d })));
    const dataJson = data.map((d) => JSON.stringify(d));
    const client = await spawnWorker("client");
    const raw = await spawnPgChild("pg raw insert");
    const runs: Record<Kind, Run[]> = { hub: [], baseline: [] };
    try {
      let round = 0;
      for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
        round++;
        const database = `switchboard_bench_pg_batch_${kind}_${round}_${process.pid}`;
        const url = await createDatabase(database);
        try {
          if (kind === "baseline") {
            const called = performance.now();
            const cpu = await withPgCpu([raw.pid], database, () =>
              raw.call<RawPgInsertResult>("rawInsert", { database, batchSize: BATCH_SIZE, topic: TOPIC, dataJson, durationS, warmupS }, 120_000),
            );
            const callS = (performance.now() - called) / 1000;
            // The process and PostgreSQL measured by the child over its timed part; "others" over the whole call, less
            // PostgreSQL's CPU as the child read it before closing (its backend is gone when withPgCpu reads /proc).
            const withoutPostgres = cpu.otherPct + (Number.isFinite(cpu.postgresPct) ? cpu.postgresPct : 0);
            const r: Run = {
              eventsPerSec: cpu.result.eventsPerSec,
              processCpuPct: cpu.result.clientCpuPct,
              postgresCpuPct: cpu.result.postgresCpuPct,
              otherCpuPct: Number.isFinite(cpu.result.postgresCpuSecondsInCall)
                ? Math.max(0, withoutPostgres - (100 * cpu.result.postgresCpuSecondsInCall) / callS)
                : cpu.otherPct,
            };
            runs.baseline.push(r);
            ctx.log(
              `raw      ${Math.round(r.eventsPerSec)} events/s (multi-row INSERT, ${BATCH_SIZE} per transaction; cpu: client ${r.processCpuPct.toFixed(0)}%, ` +
                `postgres ${r.postgresCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
            );
            continue;
          }
          const server = await startPgHub(ctx, `pg-batch-hub-${round}`, url);
          try {
            const load = { url: `${server.origin}/api/events`, body, connections: CONNECTIONS, pipelining: 1 };
            await client.call("load", { ...load, durationS: warmupS });
            const cpu = await withPgCpu([server.pid, client.pid], database, () => client.call<LoadResult>("load", { ...load, durationS }));
            const r: Run = {
              eventsPerSec: cpu.result.okPerSec * BATCH_SIZE,
              processCpuPct: cpu.pct[0]!,
              postgresCpuPct: cpu.postgresPct,
              clientCpuPct: cpu.pct[1]!,
              otherCpuPct: cpu.otherPct,
              load: cpu.result,
            };
            runs.hub.push(r);
            ctx.log(
              `hub      ${Math.round(r.eventsPerSec)} events/s (${cpu.result.okPerSec.toFixed(0)} batches/s, p99 ${cpu.result.latencyP99Ms} ms, non-2xx ${cpu.result.non2xx}; ` +
                `cpu: hub ${r.processCpuPct.toFixed(0)}%, postgres ${r.postgresCpuPct.toFixed(0)}%, client ${r.clientCpuPct!.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
            );
          } finally {
            await server.stop();
          }
        } finally {
          await dropDatabase(database);
        }
      }
    } finally {
      await Promise.all([client.close(), raw.close()]);
    }
    const best = (k: Kind) => runs[k].reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
    const hub = best("hub");
    const base = best("baseline");
    const failures = runs.hub.reduce((n, r) => n + (r.load?.non2xx ?? 0) + (r.load?.errors ?? 0), 0);
    // CPU per stored event, the writing process and PostgreSQL together.
    const cpuUs = (r: Run) => ((r.processCpuPct + r.postgresCpuPct) * 1e4) / r.eventsPerSec;
    return {
      rows: [
        row({
          bench: "pg-batch",
          metric: `events/s, POST ${BATCH_SIZE}-event arrays x${CONNECTIONS} conns, PostgreSQL (vs raw multi-row INSERTs)`,
          unit: "ev/s",
          hub: hub.eventsPerSec,
          baseline: base.eventsPerSec,
          target: { on: "ratio", op: ">=", value: 0.8 },
          note:
            `cpu hub/postgres: ${hub.processCpuPct.toFixed(0)}/${hub.postgresCpuPct.toFixed(0)}% (others ${hub.otherCpuPct.toFixed(0)}%), ` +
            `raw client/postgres: ${base.processCpuPct.toFixed(0)}/${base.postgresCpuPct.toFixed(0)}% (others ${base.otherCpuPct.toFixed(0)}%)` +
            (failures ? `; ${failures} non-2xx or errors` : ""),
        }),
        row({
          bench: "pg-batch",
          metric: "CPU per stored event, writer + PostgreSQL (same rounds)",
          unit: "µs",
          hub: cpuUs(hub),
          baseline: cpuUs(base),
          target: null,
          note: `PostgreSQL alone: hub ${((hub.postgresCpuPct * 1e4) / hub.eventsPerSec).toFixed(1)} µs, raw ${((base.postgresCpuPct * 1e4) / base.eventsPerSec).toFixed(1)} µs per event`,
        }),
      ],
      details: { batchSize: BATCH_SIZE, connections: CONNECTIONS, durationS, warmupS, baselineSql: "multi-row INSERT … VALUES, one connection", runs },
    };
  },
};
