import { spawn } from "node:child_process";
import { join } from "node:path";
import type { GraphileRunResult } from "./graphile-child.js";
import { BENCH_BUILD, driveOverIpc, ROOT, type Worker } from "./processes.js";

export type { GraphileRunResult };

/**
 * graphile-worker's settings for throughput, after its performance docs and perfTest: `concurrency` jobs per
 * process over a pool of one connection more, and no log line per completed job (`NO_LOG_SUCCESS`). 0.16 has no
 * local queue and no batched completion (those came in 0.17): each job is one fetch and one completion round trip.
 */
export const GRAPHILE_CONCURRENCY = 64;

/**
 * Starts bench/lib/graphile-child.ts (transpiled) in a process of its own, driven over IPC: `prepare` installs the
 * schema and queues the jobs, `run` times a worker run. Close it (or let bench/run.ts exit) to end it.
 */
export async function startGraphileChild(): Promise<Worker> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_LOG_SUCCESS: "1" };
  delete env.NODE_OPTIONS;
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [join(BENCH_BUILD, "lib/graphile-child.js")], { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return driveOverIpc(child, "graphile child");
}
