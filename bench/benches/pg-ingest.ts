import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { startPgHub, withPgCpu } from "../lib/pg-hub.js";
import { createDatabase, dropDatabase } from "../lib/pg-server.js";
import { spawnWorker, startHub, type ServerProcess } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";
import { POST_CONNECTIONS, SMALL_EVENT } from "./ingest.js";

type Kind = "hub" | "baseline";

interface Run extends LoadResult {
  serverCpuPct: number;
  postgresCpuPct: number;
  otherCpuPct: number;
}

/**
 * The `ingest` load (single-event `POST /api/events`, 100 connections) on the hub with PostgreSQL behind it, against
 * the same hub on SQLite, in the same run, ABBA. Each arm gets a fresh store: a new database (dropped afterwards) or
 * a new SQLite file. The target: PostgreSQL costs at most a fifth of the rate.
 */
export const pgIngestBench: Bench = {
  name: "pg-ingest",
  title: "single-event POST rate, hub on PostgreSQL vs on SQLite",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 3;
    const client = await spawnWorker("client");
    const runs: Record<Kind, Run[]> = { hub: [], baseline: [] };
    try {
      let round = 0;
      for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
        round++;
        const database = kind === "hub" ? `switchboard_bench_pg_ingest_${round}_${process.pid}` : undefined;
        let server: ServerProcess | undefined;
        try {
          server = database
            ? await startPgHub(ctx, `pg-ingest-hub-${round}`, await createDatabase(database))
            : await startHub({
                databasePath: join(ctx.freshDir(`pg-ingest-sqlite-${round}`), "hub.db"),
                cpuProfDir: ctx.profileDir(`pg-ingest-sqlite-${round}`),
              });
          const load = { url: `${server.origin}/api/events`, body: SMALL_EVENT, connections: POST_CONNECTIONS, pipelining: 1 };
          await client.call("load", { ...load, durationS: warmupS });
          const cpu = await withPgCpu([server.pid, client.pid], database, () => client.call<LoadResult>("load", { ...load, durationS }));
          const r: Run = { ...cpu.result, serverCpuPct: cpu.pct[0]!, clientCpuPct: cpu.pct[1]!, postgresCpuPct: cpu.postgresPct, otherCpuPct: cpu.otherPct };
          runs[kind].push(r);
          ctx.log(
            `${kind === "hub" ? "postgres" : "sqlite  "} ${Math.round(r.okPerSec)} req/s (p99 ${r.latencyP99Ms} ms, non-2xx ${r.non2xx}, errors ${r.errors}; ` +
              `cpu: hub ${r.serverCpuPct.toFixed(0)}%, ${database ? `postgres ${r.postgresCpuPct.toFixed(0)}%, ` : ""}client ${r.clientCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
          );
        } finally {
          await server?.stop();
          if (database) await dropDatabase(database);
        }
      }
    } finally {
      await client.close();
    }
    const best = (k: Kind) => runs[k].reduce((a, b) => (b.okPerSec > a.okPerSec ? b : a));
    const hub = best("hub");
    const base = best("baseline");
    const failures = [...runs.hub, ...runs.baseline].reduce((n, r) => n + r.non2xx + r.errors, 0);
    // CPU per request of everything serving it: the hub, and PostgreSQL when it is the store.
    const cpuUs = (r: Run, withPostgres: boolean) => ((r.serverCpuPct + (withPostgres ? r.postgresCpuPct : 0)) * 1e4) / r.okPerSec;
    return {
      rows: [
        row({
          bench: "pg-ingest",
          metric: `POST /api/events, ${POST_CONNECTIONS} conns, on PostgreSQL (vs the hub on SQLite)`,
          unit: "req/s",
          hub: hub.okPerSec,
          baseline: base.okPerSec,
          target: { on: "ratio", op: ">=", value: 0.8 },
          note:
            `cpu hub/postgres/client/others: on PostgreSQL ${hub.serverCpuPct.toFixed(0)}/${hub.postgresCpuPct.toFixed(0)}/${hub.clientCpuPct.toFixed(0)}/${hub.otherCpuPct.toFixed(0)}%, ` +
            `on SQLite ${base.serverCpuPct.toFixed(0)}/–/${base.clientCpuPct.toFixed(0)}/${base.otherCpuPct.toFixed(0)}%` +
            (failures ? `; ${failures} non-2xx or errors` : ""),
        }),
        row({
          bench: "pg-ingest",
          metric: "CPU per request, hub + PostgreSQL (vs hub on SQLite)",
          unit: "µs",
          hub: cpuUs(hub, true),
          baseline: cpuUs(base, false),
          target: null,
          note: `the hub process alone: ${cpuUs(hub, false).toFixed(0)} µs on PostgreSQL, ${cpuUs(base, false).toFixed(0)} µs on SQLite`,
        }),
      ],
      details: { durationS, warmupS, connections: POST_CONNECTIONS, pipelining: 1, body: SMALL_EVENT, runs },
    };
  },
};
