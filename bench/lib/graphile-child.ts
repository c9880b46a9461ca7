/**
 * The graphile-worker baseline of the pg-webhook bench, in a child process of its own (started by
 * bench/lib/graphile-baseline.ts, driven over IPC like bench/worker.ts). It runs as plain JavaScript from the
 * transpiled bench, never under a TypeScript loader.
 */
import { EventEmitter } from "node:events";
import { Logger, run, runMigrations, type Runner, type WorkerEvents } from "graphile-worker";
import pg from "pg";
import { nowAbsMs } from "./receiver.js";
import { serveOverIpc, type IpcHandler } from "./ipc-child.js";

/** Errors only: the worker logs its start and stop at info, which we do not need on the bench's output. */
const logger = new Logger(() => (level, message) => {
  if (level === "error") process.stderr.write(`graphile-worker: ${message}\n`);
});

/** Jobs per `add_jobs` call when queuing. */
const ADD_BATCH = 10_000;

/**
 * Installs graphile-worker's schema and queues `jobs` jobs of the no-op task through its SQL batch API
 * (`graphile_worker.add_jobs`), each with a payload of the same text as the webhook bench's event data.
 */
async function prepare(args: { connectionString: string; jobs: number }): Promise<{ seconds: number; queued: number }> {
  await runMigrations({ connectionString: args.connectionString, logger });
  const client = new pg.Client({ connectionString: args.connectionString });
  await client.connect();
  const t0 = performance.now();
  try {
    for (let from = 0; from < args.jobs; from += ADD_BATCH) {
      const to = Math.min(args.jobs, from + ADD_BATCH) - 1;
      await client.query(
        `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
           SELECT ROW('noop', ('{"msg":"data","n":' || n || ',"timestamp":"1700000000"}')::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
           FROM generate_series($1::int, $2::int) AS n))`,
        [from, to],
      );
    }
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM graphile_worker.jobs`);
    return { seconds: (performance.now() - t0) / 1000, queued: Number(rows[0]!.n) };
  } finally {
    await client.end();
  }
}

/** What one timed worker run measured; times are absolute ms (see nowAbsMs). */
export interface GraphileRunResult {
  startAtMs: number;
  /** When the first job began: what precedes it is the runner's start (pool, listen, task registration). */
  firstJobAtMs: number;
  /** When the last job's completion was written (the job deleted). */
  endAtMs: number;
  completed: number;
  failed: number;
}

/** The runner of the last `run`, kept (with its connections, whose CPU the parent reads) until `stop`. */
let runner: Runner | undefined;

/**
 * Starts a runner (`concurrency` jobs at once over a pool of `poolSize` connections) whose only task, `noop`, returns
 * at once, and times it from `run()` until `jobs` jobs have completed ("job:complete" comes after the job is deleted).
 * The runner keeps running until `stop`.
 */
async function runJobs(args: { connectionString: string; jobs: number; concurrency: number; poolSize: number; timeoutMs: number }): Promise<GraphileRunResult> {
  if (runner) throw new Error("a runner is still running");
  const events = new EventEmitter() as WorkerEvents;
  let completed = 0;
  let failed = 0;
  let firstJobAtMs = 0;
  let endAtMs = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  events.on("job:start", () => {
    if (firstJobAtMs === 0) firstJobAtMs = nowAbsMs();
  });
  events.on("job:complete", ({ error }) => {
    if (error) failed++;
    else completed++;
    if (completed + failed === args.jobs) {
      endAtMs = nowAbsMs();
      resolveDone();
    }
  });
  const startAtMs = nowAbsMs();
  runner = await run({
    connectionString: args.connectionString,
    concurrency: args.concurrency,
    maxPoolSize: args.poolSize,
    noHandleSignals: true,
    logger,
    events,
    taskList: { noop: async () => {} },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`graphile-worker completed ${completed} (${failed} failed) of ${args.jobs} jobs within ${args.timeoutMs} ms`)),
          args.timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return { startAtMs, firstJobAtMs, endAtMs, completed, failed };
}

/** Stops the runner of the last `run`; returns how many jobs are still queued (0 unless something went wrong). */
async function stop(args: { connectionString: string }): Promise<{ left: number }> {
  await runner?.stop();
  runner = undefined;
  const client = new pg.Client({ connectionString: args.connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM graphile_worker.jobs`);
    return { left: Number(rows[0]!.n) };
  } finally {
    await client.end();
  }
}

type Handler = IpcHandler;
const handlers: Record<string, Handler> = {
  ping: async () => "pong",
  prepare: prepare as Handler,
  run: runJobs as Handler,
  stop: stop as Handler,
};

serveOverIpc(handlers);
