import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { GRAPHILE_CONCURRENCY, startGraphileChild, type GraphileRunResult } from "../lib/graphile-baseline.js";
import type { HandlersRunResult } from "../lib/handlers-child.js";
import { createDatabase, dropDatabase, dropStaleDatabases } from "../lib/pg-server.js";
import { BENCH_BUILD, driveOverIpc, ROOT, type Worker } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";

/** Prefix of this bench's databases (one per arm and round, dropped after it). */
const DATABASE_PREFIX = "switchboard_bench_handlers";

interface ArmRun {
  count: number;
  seconds: number;
  perSec: number;
  /** Hub: from start() until the last run returned (before its attempt was recorded). */
  lastRunS?: number;
  queueS: number;
}

/** Starts bench/lib/handlers-child.ts (transpiled) in a process of its own, loading the built hub from dist/. */
async function startHandlersChild(): Promise<Worker> {
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_DIST: join(ROOT, "dist/index.js") };
  delete env.NODE_OPTIONS;
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [join(BENCH_BUILD, "lib/handlers-child.js")], { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return driveOverIpc(child, "handlers child");
}

/**
 * Durable no-op handler runs per second on PostgreSQL against graphile-worker's no-op jobs on the same server. Both
 * drain a backlog queued before the timed run, `concurrency` 64 each, each in a process of its own and a fresh
 * database per arm and round (graphile-worker's schema never shares one with the hub's tables). The hub's time runs
 * from `hub.start()` until every delivery is recorded delivered (a run is durable then, as a graphile job is once
 * deleted); graphile-worker's from `run()` until its last `job:complete`.
 */
export const handlersBench: Bench = {
  name: "handlers",
  title: "durable no-op handler runs/s on PostgreSQL vs graphile-worker no-op jobs",
  async run(ctx) {
    const count = ctx.quick ? 5_000 : 20_000;
    const hubChild = await startHandlersChild();
    const graphile = await startGraphileChild();
    const runs: { hub: ArmRun[]; baseline: ArmRun[] } = { hub: [], baseline: [] };
    try {
      await dropStaleDatabases(DATABASE_PREFIX);
      let round = 0;
      for (const kind of interleave<"baseline" | "hub">("baseline", "hub", ctx.rounds)) {
        round++;
        const name = `${DATABASE_PREFIX}_${kind}_${round}_${process.pid}`;
        const url = await createDatabase(name);
        try {
          if (kind === "baseline") {
            const { seconds: queueS } = await graphile.call<{ seconds: number }>("prepare", { connectionString: url, jobs: count }, 300_000);
            const g = await graphile.call<GraphileRunResult>(
              "run",
              { connectionString: url, jobs: count, concurrency: GRAPHILE_CONCURRENCY, poolSize: GRAPHILE_CONCURRENCY + 1, timeoutMs: 300_000 },
              310_000,
            );
            const { left } = await graphile.call<{ left: number }>("stop", { connectionString: url });
            if (g.failed > 0 || left > 0) throw new Error(`graphile-worker: ${g.failed} jobs failed, ${left} left`);
            const seconds = (g.endAtMs - g.startAtMs) / 1000;
            runs.baseline.push({ count, seconds, perSec: count / seconds, queueS });
            ctx.log(`graphile ${Math.round(count / seconds)} jobs/s (${count} in ${seconds.toFixed(2)} s; queued in ${queueS.toFixed(1)} s)`);
            continue;
          }
          const { seconds: queueS } = await hubChild.call<{ seconds: number }>("prepare", { databaseUrl: url, events: count }, 300_000);
          const h = await hubChild.call<HandlersRunResult>(
            "run",
            { databaseUrl: url, events: count, concurrency: GRAPHILE_CONCURRENCY, timeoutMs: 300_000 },
            310_000,
          );
          await hubChild.call("stop", null);
          const seconds = (h.recordedAtMs - h.startAtMs) / 1000;
          const lastRunS = (h.lastRunAtMs - h.startAtMs) / 1000;
          runs.hub.push({ count, seconds, perSec: count / seconds, lastRunS, queueS });
          ctx.log(
            `hub      ${Math.round(count / seconds)} runs/s (${count} recorded in ${seconds.toFixed(2)} s, last run at ${lastRunS.toFixed(2)} s; published in ${queueS.toFixed(1)} s)`,
          );
        } finally {
          await dropDatabase(name);
        }
      }
    } finally {
      await Promise.all([hubChild.close(), graphile.close()]);
    }
    const best = (arm: ArmRun[]) => arm.reduce((a, b) => (b.perSec > a.perSec ? b : a));
    const hub = best(runs.hub);
    const base = best(runs.baseline);
    return {
      rows: [
        row({
          bench: "handlers",
          metric: `durable no-op handler runs/s on PostgreSQL, ${count} queued, concurrency ${GRAPHILE_CONCURRENCY} (vs graphile-worker no-op jobs, same)`,
          unit: "/s",
          hub: hub.perSec,
          baseline: base.perSec,
          target: { on: "ratio", op: ">=", value: 2 },
          note: `hub: every run recorded at ${hub.seconds.toFixed(2)} s, last run returned at ${hub.lastRunS!.toFixed(2)} s; graphile: ${base.seconds.toFixed(2)} s`,
        }),
      ],
      details: { count, concurrency: GRAPHILE_CONCURRENCY, runs },
    };
  },
};
