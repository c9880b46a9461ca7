import { spawn } from "node:child_process";
import { join } from "node:path";
import { BENCH_BUILD, ROOT, type Worker } from "./processes.js";

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

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
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("message", (message: Reply) => {
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    if (message.ok) w.resolve(message.result);
    else w.reject(new Error(`${name}: ${message.error}`));
  });
  child.once("exit", (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`${name} exited (code ${code}, signal ${signal})`));
    waiting.clear();
  });
  const worker: Worker = {
    pid: child.pid!,
    call<T>(command: string, args: unknown, timeoutMs = 120_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${name}: ${command} took longer than ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, command, args });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await worker.call("ping", null, 30_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return worker;
}
