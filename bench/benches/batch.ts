import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";

const BATCH_SIZE = 500;
const CONNECTIONS = 4;
const TOPIC = "bench.batch";

/**
 * Bench 2: batch ingest events/s. The hub gets `POST /api/events` with arrays of 500 events from 4 concurrent
 * connections; the baseline inserts the same rows (same statement, same data text, fresh ULIDs) with raw
 * better-sqlite3 into the same schema and pragmas, one transaction per 500, in one process.
 */
export const batchBench: Bench = {
  name: "batch",
  title: "batch ingest events/s",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 2;
    const data = Array.from({ length: BATCH_SIZE }, (_, n) => ({ msg: "data", n, timestamp: "1700000000" }));
    const body = JSON.stringify(data.map((d) => ({ topic: TOPIC, data: d })));
    const dataJson = data.map((d) => JSON.stringify(d));
    const client = await spawnWorker("client");
    const sqlite = await spawnWorker("sqlite-baseline");
    const hubRuns: (LoadResult & { eventsPerSec: number; serverCpuPct: number; otherCpuPct: number })[] = [];
    const baseRuns: { eventsPerSec: number; events: number; durationS: number; cpuPct: number; otherCpuPct: number }[] = [];
    try {
      let round = 0;
      for (const kind of interleave("baseline", "hub", ctx.rounds)) {
        round++;
        const dir = ctx.freshDir(`batch-${kind}-${round}`);
        if (kind === "baseline") {
          const cpu = await withCpu([sqlite.pid], () =>
            sqlite.call<{ eventsPerSec: number; events: number; durationS: number }>("sqliteInsert", {
              path: join(dir, "raw.db"),
              batchSize: BATCH_SIZE,
              topic: TOPIC,
              dataJson,
              durationS,
              warmupS,
            }),
          );
          const r = { ...cpu.result, cpuPct: cpu.pct[0]!, otherCpuPct: cpu.otherPct };
          baseRuns.push(r);
          ctx.log(
            `baseline ${Math.round(r.eventsPerSec)} events/s (raw better-sqlite3, ${BATCH_SIZE} per transaction; cpu ${r.cpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
          );
          continue;
        }
        const server = await startHub({ databasePath: join(dir, "hub.db"), cpuProfDir: ctx.profileDir(`batch-hub-${round}`) });
        try {
          const load = { url: `${server.origin}/api/events`, body, connections: CONNECTIONS, pipelining: 1 };
          await client.call("load", { ...load, durationS: warmupS });
          const cpu = await withCpu([server.pid, client.pid], () => client.call<LoadResult>("load", { ...load, durationS }));
          const r = {
            ...cpu.result,
            eventsPerSec: cpu.result.okPerSec * BATCH_SIZE,
            serverCpuPct: cpu.pct[0]!,
            clientCpuPct: cpu.pct[1]!,
            otherCpuPct: cpu.otherPct,
          };
          hubRuns.push(r);
          ctx.log(
            `hub      ${Math.round(r.eventsPerSec)} events/s (${r.okPerSec.toFixed(0)} batches/s, p99 ${r.latencyP99Ms} ms, non-2xx ${r.non2xx}; ` +
              `cpu: server ${r.serverCpuPct.toFixed(0)}%, client ${r.clientCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
          );
        } finally {
          await server.stop();
        }
      }
    } finally {
      await Promise.all([client.close(), sqlite.close()]);
    }
    const hub = hubRuns.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
    const base = baseRuns.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
    // CPU per event: steadier than events/s when other processes share the cores.
    const cpuUs = (cpuPct: number, perSec: number) => (cpuPct * 1e4) / perSec;
    return {
      rows: [
        row({
          bench: "batch",
          metric: `events/s, POST ${BATCH_SIZE}-event arrays x${CONNECTIONS} conns (vs raw better-sqlite3)`,
          unit: "ev/s",
          hub: hub.eventsPerSec,
          baseline: base.eventsPerSec,
          target: { on: "ratio", op: ">=", value: 0.8 },
          note:
            `cpu: hub server ${hub.serverCpuPct.toFixed(0)}% (others ${hub.otherCpuPct.toFixed(0)}%), raw sqlite ${base.cpuPct.toFixed(0)}% (others ${base.otherCpuPct.toFixed(0)}%)` +
            (hub.non2xx + hub.errors ? `; ${hub.non2xx + hub.errors} non-2xx or errors` : ""),
        }),
        row({
          bench: "batch",
          metric: "process CPU per stored event (same rounds)",
          unit: "µs",
          hub: cpuUs(hub.serverCpuPct, hub.eventsPerSec),
          baseline: cpuUs(base.cpuPct, base.eventsPerSec),
          target: null,
          note: `efficiency raw/hub ${(cpuUs(base.cpuPct, base.eventsPerSec) / cpuUs(hub.serverCpuPct, hub.eventsPerSec)).toFixed(2)}: the events/s ratio with a whole core each`,
        }),
      ],
      details: { batchSize: BATCH_SIZE, connections: CONNECTIONS, durationS, warmupS, hubRuns, baselineRuns: baseRuns },
    };
  },
};
