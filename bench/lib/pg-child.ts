/**
 * The child process of the PostgreSQL benches (started by bench/lib/pg-spawn.ts, driven over IPC like
 * bench/worker.ts): the raw-insert baseline, the query prefill and direct queries, and the client-library
 * workloads, each in a process of its own so that its CPU is measured apart. It runs as plain JavaScript from the
 * transpiled bench, never under a TypeScript loader.
 */
import { clientAppend, clientSelect } from "./pg-clients.js";
import { prefillPgEvents, queryPgDirect } from "./pg-event-log.js";
import { rawPgInsert } from "./pg-raw-insert.js";

type Handler = (args: never) => Promise<unknown>;

const handlers: Record<string, Handler> = {
  ping: async () => "pong",
  rawInsert: rawPgInsert as Handler,
  prefill: prefillPgEvents as Handler,
  queryDirect: queryPgDirect as Handler,
  clientAppend: clientAppend as Handler,
  clientSelect: clientSelect as Handler,
};

process.on("message", (message: { id: number; command: string; args: never }) => {
  const handler = handlers[message.command];
  const reply = (body: { ok: boolean; result?: unknown; error?: string }) => process.send?.({ id: message.id, ...body });
  if (!handler) {
    reply({ ok: false, error: `unknown command ${message.command}` });
    return;
  }
  handler(message.args).then(
    (result) => reply({ ok: true, result }),
    (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
// The parent went away (or closed us): stop.
process.on("disconnect", () => process.exit(0));
