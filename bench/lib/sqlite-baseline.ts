import Database from "better-sqlite3";
import { INSERT_EVENT } from "../../src/store/sqlite/sql/events.js";
import { searchEventsSql } from "../../src/store/sqlite/search-events-sql.js";
import { importDist } from "./dist.js";

/**
 * The pragmas `openSqliteStore` sets (src/store/sqlite/sqlite-store.ts), so the raw baselines run on the same
 * footing as the hub. Keep the two in step.
 */
export const STORE_PRAGMAS = [
  "journal_mode = WAL",
  "synchronous = NORMAL",
  "busy_timeout = 5000",
  "foreign_keys = ON",
  "wal_autocheckpoint = 4000",
  "cache_size = -65536",
];

/**
 * The store's one-row insert (13 parameters: the publisher, null for hub-generated ids, then the captured headers). The
 * store binds runs of events into its 64- and 8-row forms; the baseline keeps one `run()` per row.
 */
export const INSERT_EVENT_SQL = INSERT_EVENT;

/** The SQL the store's event search builds for `?topic=X&from=…&to=…&limit=N` (one exact topic, ascending). */
export const TOPIC_RANGE_SQL = searchEventsSql({ topics: ["x"], fromTime: 0, toTime: 0, order: "asc", limit: 1 }).sql;

/** Opens a SQLite file with the store's pragmas; with `migrate`, applies every SQLite migration file to it. */
export async function openBaselineDb(path: string, options: { migrate?: boolean } = {}): Promise<Database.Database> {
  const db = new Database(path);
  for (const p of STORE_PRAGMAS) db.pragma(p);
  if (options.migrate) {
    const { loadMigrations } = await importDist<typeof import("../../src/store/migrate.js")>("store/migrate.js");
    for (const m of loadMigrations("sqlite")) db.exec(m.sql);
  }
  return db;
}
