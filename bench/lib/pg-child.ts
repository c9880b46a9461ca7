/**
 * The child process of the PostgreSQL benches (started by bench/lib/pg-spawn.ts, driven over IPC like
 * bench/worker.ts): the raw-insert baseline, the query prefill and direct queries, and the client-library
 * workloads, each in a process of its own so that its CPU is measured apart. It runs as plain JavaScript from the
 * transpiled bench, never under a TypeScript loader.
 */
import { clientAppend, clientSelect } from "./pg-clients.js";
import { prefillPgEvents, queryPgDirect } from "./pg-event-log.js";
import { rawPgInsert } from "./pg-raw-insert.js";
import { fillRollups, statsDirect } from "./stats-fill.js";
import { serveOverIpc, type IpcHandler } from "./ipc-child.js";

type Handler = IpcHandler;

const handlers: Record<string, Handler> = {
  ping: async () => "pong",
  rawInsert: rawPgInsert as Handler,
  prefill: prefillPgEvents as Handler,
  queryDirect: queryPgDirect as Handler,
  fillRollups: fillRollups as Handler,
  statsDirect: statsDirect as Handler,
  clientAppend: clientAppend as Handler,
  clientSelect: clientSelect as Handler,
};

serveOverIpc(handlers);
