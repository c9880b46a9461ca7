import { spawn } from "node:child_process";
import { join } from "node:path";
import { BENCH_BUILD, driveOverIpc, ROOT, type Worker } from "./processes.js";

/** The environment of a child: ours without anything that would configure the hub or inject loaders. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("SWITCHBOARD_") || ["NODE_OPTIONS", "PORT", "HOST", "BASE_PATH", "DATABASE_URL", "LOG_LEVEL"].includes(k)) continue;
    env[k] = v;
  }
  return env;
}

/**
 * Starts bench/lib/pg-child.ts (transpiled) in a process of its own, driven over IPC like bench/worker.ts: the raw
 * PostgreSQL baselines and the client-library workloads. `name` only labels errors. The child exits when the IPC
 * channel closes, so a runner that dies takes it along.
 */
export async function spawnPgChild(name: string): Promise<Worker> {
  const child = spawn(process.execPath, [join(BENCH_BUILD, "lib/pg-child.js"), name], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return driveOverIpc(child, name);
}
