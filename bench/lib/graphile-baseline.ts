import { spawn } from "node:child_process";
import { join } from "node:path";
import type { GraphileRunResult } from "./graphile-child.js";
import { BENCH_BUILD, ROOT, type Worker } from "./processes.js";

export type { GraphileRunResult };

/**
 * graphile-worker's settings for throughput, after its performance docs and perfTest: `concurrency` jobs per
 * process over a pool of one connection more, and no log line per completed job (`NO_LOG_SUCCESS`). 0.16 has no
 * local queue and no batched completion (those came in 0.17): each job is one fetch and one completion round trip.
 */
export const GRAPHILE_CONCURRENCY = 64;

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/**
 * Starts bench/lib/graphile-child.ts (transpiled) in a process of its own, driven over IPC: `prepare` installs the
 * schema and queues the jobs, `run` times a worker run. Close it (or let bench/run.ts exit) to end it.
 */
export async function startGraphileChild(): Promise<Worker> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_LOG_SUCCESS: "1" };
  delete env.NODE_OPTIONS;
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [join(BENCH_BUILD, "lib/graphile-child.js")], { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("message", (message: Reply) => {
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    if (message.ok) w.resolve(message.result);
    else w.reject(new Error(`graphile child: ${message.error}`));
  });
  child.once("exit", (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`graphile child exited (code ${code}, signal ${signal})`));
    waiting.clear();
  });
  // The parent dying closes the IPC channel, and the child exits on that (see graphile-child.ts).
  const worker: Worker = {
    pid: child.pid!,
    call<T>(command: string, args: unknown, timeoutMs = 120_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`graphile child: ${command} took longer than ${timeoutMs} ms`));
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
