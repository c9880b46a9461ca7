/**
 * A process that dies between the application's commit and the relay: it opens a hub on `argv[2]` (a DATABASE_URL),
 * commits three events through the outbox in one transaction, prints their ids, and SIGKILLs itself in the same
 * turn of the event loop (on SQLite the relay's wake-up is the next turn; on PostgreSQL the NOTIFY is not read yet).
 */
import { createHub } from "../../src/hub.js";
import { parseDatabaseUrl } from "../../src/store/index.js";
import { pgCaller, sqliteCaller } from "./outbox-caller.js";

const url = process.argv[2]!;
const hub = await createHub({ databaseUrl: url, logLevel: "silent", outboxSweepMs: 3_600_000 });
const location = parseDatabaseUrl(url);
const caller = location.dialect === "sqlite" ? sqliteCaller(location.path) : await pgCaller(location.url);
const inputs = [0, 1, 2].map((i) => ({ topic: "orders.created", key: "o-1", data: { i } }));
const ids = await caller.transaction(hub, inputs, "commit");
process.stdout.write(`ids ${JSON.stringify(ids)}\n`);
process.kill(process.pid, "SIGKILL");
