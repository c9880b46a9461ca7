import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the background checkpointer copies the WAL into the database file (ms). */
export const CHECKPOINT_INTERVAL_MS = 200;

/**
 * The worker's code, CommonJS run with `eval` (the same from `src/` under the tests as from `dist/`): its own
 * connection, a PASSIVE checkpoint every interval, and a message when one copied pages it had not told of. PASSIVE never waits for a
 * lock and never blocks the hub's writer; it copies what no reader still needs, and the writer starts the WAL over
 * once everything was copied. `busy_timeout` 0: a checkpoint that finds another one running is skipped.
 */
const WORKER_CODE = `
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("busy_timeout = 0");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
let last = "";
const timer = setInterval(() => {
  try {
    const { busy, log, checkpointed } = checkpoint.get();
    // An idle WAL answers the same again and again: told once.
    if (checkpointed > 0 && \`\${log}/\${checkpointed}\` !== last) parentPort.postMessage({ type: "checkpoint", busy, log, checkpointed });
    last = \`\${log}/\${checkpointed}\`;
  } catch (error) {
    parentPort.postMessage({ type: "error", message: String(error && error.message ? error.message : error) });
  }
}, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** Options of {@link startWalCheckpointer}. */
export interface WalCheckpointerOptions {
  /** The database file (in WAL mode). */
  path: string;
  /** Default {@link CHECKPOINT_INTERVAL_MS}. */
  intervalMs?: number;
  /** The worker could not open the file, or died: checkpoints must run elsewhere from now on. */
  onFailure: (error: Error) => void;
}

/** A running background checkpointer. */
export interface WalCheckpointer {
  /** Checkpoints that copied pages so far, and the last one's WAL size and pages copied (frames). */
  readonly stats: { checkpoints: number; lastLog: number; lastCheckpointed: number };
  /** Stops the worker once its checkpoint under way (if any) is done, and closes its connection. */
  stop(): Promise<void>;
}

/**
 * Runs SQLite's WAL checkpoints on a worker thread with a connection of its own. Run by the writing connection (its
 * `wal_autocheckpoint`), a checkpoint copies thousands of pages and syncs the file inside one COMMIT, on the event
 * loop: 10–25 ms during which no request is served (the webhook-latency bench's p99 went from 18–22 ms to 6–7 ms
 * without them). Here it runs beside the event loop, on the other core when there is one.
 */
export function startWalCheckpointer(options: WalCheckpointerOptions): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(`const { parentPort, workerData } = require("node:worker_threads");${WORKER_CODE}`, {
    eval: true,
    workerData: { driver, path: options.path, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS },
  });
  // The worker's timer alone must not keep the process alive.
  worker.unref();
  const stats = { checkpoints: 0, lastLog: 0, lastCheckpointed: 0 };
  let stopping = false;
  let failed = false;
  const fail = (error: Error) => {
    if (failed || stopping) return;
    failed = true;
    options.onFailure(error);
  };
  worker.on("message", (message: { type: string; log?: number; checkpointed?: number; message?: string }) => {
    if (message.type === "checkpoint") {
      stats.checkpoints++;
      stats.lastLog = message.log ?? 0;
      stats.lastCheckpointed = message.checkpointed ?? 0;
    } else if (message.type === "error") {
      // One failed checkpoint (the disk is full, say) is tried again at the next interval; the writer's backstop
      // checkpoints keep the WAL bounded meanwhile.
      stats.lastCheckpointed = 0;
    }
  });
  worker.on("error", fail);
  worker.on("exit", (code) => {
    if (!stopping) fail(new Error(`the WAL checkpointer's worker exited with code ${code}`));
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    stats,
    async stop() {
      if (stopping) return exited;
      stopping = true;
      if (failed) return;
      // Referenced again while it stops: awaited by a script's last `await hub.close()`, an unreferenced worker would
      // leave nothing to keep the process alive, and Node would exit with the await unsettled (code 13).
      worker.ref();
      worker.postMessage("stop");
      await exited;
    },
  };
}
