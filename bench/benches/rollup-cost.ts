import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row, type ResultRow } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";
import { POST_CONNECTIONS, SMALL_EVENT } from "./ingest.js";

const BATCH_SIZE = 500;
const BATCH_CONNECTIONS = 4;

interface Run extends LoadResult {
  eventsPerSec: number;
  serverCpuPct: number;
  otherCpuPct: number;
}

/**
 * What the rollups cost at commit: the `ingest` load (single-event POSTs) and the `batch` load (arrays of 500) on
 * the hub as shipped (hub) against the same hub started with `SWITCHBOARD_ROLLUPS=false` (baseline), ABBA, a fresh
 * file per round. The target: the rollups cost at most 5%, so hub ÷ baseline ≥ 0.95.
 */
export const rollupCostBench: Bench = {
  name: "rollup-cost",
  title: "the rollups' cost on ingest (on vs off)",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 3;
    const batchBody = JSON.stringify(
      Array.from({ length: BATCH_SIZE }, (_, n) => ({ topic: "bench.batch", data: { msg: "data", n, timestamp: "1700000000" } })),
    );
    const loads = [
      { name: "single POST", body: SMALL_EVENT, connections: POST_CONNECTIONS, perRequest: 1 },
      { name: `batches of ${BATCH_SIZE}`, body: batchBody, connections: BATCH_CONNECTIONS, perRequest: BATCH_SIZE },
    ];
    const client = await spawnWorker("client");
    const rows: ResultRow[] = [];
    const details: Record<string, Record<"hub" | "baseline", Run[]>> = {};
    try {
      for (const load of loads) {
        const runs: Record<"hub" | "baseline", Run[]> = { hub: [], baseline: [] };
        let round = 0;
        for (const kind of interleave<"hub" | "baseline">("baseline", "hub", ctx.rounds)) {
          round++;
          const label = `rollup-cost-${load.perRequest}-${kind}-${round}`;
          const server = await startHub({
            databasePath: join(ctx.freshDir(label), "hub.db"),
            cpuProfDir: ctx.profileDir(label),
            env: kind === "baseline" ? { SWITCHBOARD_ROLLUPS: "false" } : {},
          });
          try {
            const args = { url: `${server.origin}/api/events`, body: load.body, connections: load.connections, pipelining: 1 };
            await client.call("load", { ...args, durationS: warmupS });
            const cpu = await withCpu([server.pid, client.pid], () => client.call<LoadResult>("load", { ...args, durationS }));
            const r = { ...cpu.result, eventsPerSec: cpu.result.okPerSec * load.perRequest, serverCpuPct: cpu.pct[0]!, otherCpuPct: cpu.otherPct };
            runs[kind].push(r);
            ctx.log(
              `${load.name.padEnd(16)} ${kind === "hub" ? "rollups on " : "rollups off"} ${Math.round(r.eventsPerSec)} events/s ` +
                `(non-2xx ${r.non2xx}, errors ${r.errors}; cpu: server ${r.serverCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
            );
          } finally {
            await server.stop();
          }
        }
        details[load.name] = runs;
        const best = (k: "hub" | "baseline") => runs[k].reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
        const on = best("hub");
        const off = best("baseline");
        const cpuUs = (r: Run) => (r.serverCpuPct * 1e4) / r.eventsPerSec;
        const failures = [...runs.hub, ...runs.baseline].reduce((n, r) => n + r.non2xx + r.errors, 0);
        rows.push(
          row({
            bench: "rollup-cost",
            metric: `${load.name}: rollups on (vs off)`,
            unit: "events/s",
            hub: on.eventsPerSec,
            baseline: off.eventsPerSec,
            target: { on: "ratio", op: ">=", value: 0.95 },
            note:
              `server CPU per event: on ${cpuUs(on).toFixed(2)} µs, off ${cpuUs(off).toFixed(2)} µs (off/on ${(cpuUs(off) / cpuUs(on)).toFixed(3)}); ` +
              `others ${on.otherCpuPct.toFixed(0)}/${off.otherCpuPct.toFixed(0)}%` +
              (failures ? `; ${failures} non-2xx or errors` : ""),
          }),
        );
      }
    } finally {
      await client.close();
    }
    return { rows, details: { durationS, warmupS, batchSize: BATCH_SIZE, runs: details } };
  },
};
