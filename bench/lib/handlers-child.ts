/**
 * The hub arm of the handlers bench, in a process of its own (started by bench/benches/handlers.ts, driven over IPC
 * like graphile-child.ts): the built hub (`dist/`, named by SWITCHBOARD_DIST) used as a library on PostgreSQL, with
 * one durable no-op handler. It runs as plain JavaScript from the transpiled bench.
 */
import pg from "pg";
import { pathToFileURL } from "node:url";
import type * as Switchboard from "../../src/index.js";
import { serveOverIpc, type IpcHandler } from "./ipc-child.js";
import { nowAbsMs } from "./receiver.js";

const TOPIC = "bench.handlers";
/** Events per publish call when queuing. */
const PUBLISH_BATCH = 500;

const lib = (await import(pathToFileURL(process.env.SWITCHBOARD_DIST!).href)) as typeof Switchboard;
let hub: Switchboard.Hub | undefined;

/** Publishes `events` events (the same payload text as graphile-worker's jobs) before any handler exists. */
async function prepare(args: { databaseUrl: string; events: number }): Promise<{ seconds: number }> {
  const h = await lib.createHub({ databaseUrl: args.databaseUrl, logLevel: "error" });
  const t0 = performance.now();
  try {
    for (let from = 0; from < args.events; from += PUBLISH_BATCH) {
      const to = Math.min(args.events, from + PUBLISH_BATCH);
      await h.publish(Array.from({ length: to - from }, (_, i) => ({ topic: TOPIC, data: { msg: "data", n: from + i, timestamp: "1700000000" } })));
    }
  } finally {
    await h.close();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/** What one timed run measured; times are absolute ms (see nowAbsMs). */
export interface HandlersRunResult {
  startAtMs: number;
  /** When the last run returned. */
  lastRunAtMs: number;
  /** When every delivery was recorded delivered (polled every 10 ms). */
  recordedAtMs: number;
  runs: number;
}

/**
 * Opens a hub, registers a no-op handler of every queued event (`start: "beginning"`, `concurrency` runs at once) and
 * times it from `hub.start()` until every delivery is recorded as delivered. The hub stays open until `stop`.
 */
async function run(args: { databaseUrl: string; events: number; concurrency: number; timeoutMs: number }): Promise<HandlersRunResult> {
  if (hub) throw new Error("a hub is still open");
  hub = await lib.createHub({ databaseUrl: args.databaseUrl, logLevel: "error" });
  let runs = 0;
  let lastRunAtMs = 0;
  hub.handle(
    TOPIC,
    () => {
      if (++runs === args.events) lastRunAtMs = nowAbsMs();
    },
    { name: "noop", concurrency: args.concurrency, start: "beginning" },
  );
  const poll = new pg.Client({ connectionString: args.databaseUrl });
  await poll.connect();
  try {
    const startAtMs = nowAbsMs();
    await hub.start();
    const deadline = Date.now() + args.timeoutMs;
    for (;;) {
      const { rows } = await poll.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'delivered'`);
      if (rows[0]!.n >= args.events) return { startAtMs, lastRunAtMs, recordedAtMs: nowAbsMs(), runs };
      if (Date.now() > deadline) throw new Error(`${rows[0]!.n} of ${args.events} handler runs recorded within ${args.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await poll.end();
  }
}

async function stop(): Promise<void> {
  await hub?.close();
  hub = undefined;
}

const handlers: Record<string, IpcHandler> = {
  ping: async () => "pong",
  prepare: prepare as IpcHandler,
  run: run as IpcHandler,
  stop: stop as IpcHandler,
};

serveOverIpc(handlers, () => void hub?.close());
