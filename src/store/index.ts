import { resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { openPgStore } from "./postgres/pg-store.js";
import { openSqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export type * from "./store.js";
export { openSqliteStore, SqliteStore } from "./sqlite/sqlite-store.js";
export { openPgStore, PgStore } from "./postgres/pg-store.js";

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  sqliteSynchronous?: "normal" | "full";
  /** SQLite: run the WAL checkpoints on a worker thread (see `sqlite/wal-checkpointer.ts`); the hub does. */
  sqliteBackgroundCheckpoints?: boolean;
  /** PostgreSQL: events per partition of the event log. */
  pgPartitionSize?: number;
  /** PostgreSQL: how long an append or a ping may take before it fails with a 503 (ms). */
  pgCommitTimeoutMs?: number;
  /** The store's clock (epoch milliseconds); default `Date.now`. */
  now?: () => number;
  /** Write the rollups (stats) at commit; default true. */
  rollups?: boolean;
}

/** Where a `DATABASE_URL` points. */
export type StoreLocation = { dialect: "sqlite"; path: string } | { dialect: "postgres"; url: string };

/**
 * Reads a `DATABASE_URL`: `sqlite:PATH`, `sqlite://PATH`, `file:PATH`, a bare path, `:memory:`, or `postgres://…`.
 * @throws ConfigError for anything else.
 */
export function parseDatabaseUrl(url: string): StoreLocation {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { dialect: "postgres", url: trimmed };
  const match = /^(sqlite|file):(\/\/)?(.*)$/i.exec(trimmed);
  const path = match ? match[3]! : trimmed;
  if (path === "") throw new ConfigError("DATABASE_URL", "the SQLite path is empty");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new ConfigError("DATABASE_URL", `unsupported scheme in ${JSON.stringify(url)}; use sqlite:PATH or postgres://…`);
  }
  return { dialect: "sqlite", path: path === ":memory:" ? path : resolve(path) };
}

/** Opens and migrates the store a `DATABASE_URL` names. */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseDatabaseUrl(url);
  const store =
    location.dialect === "postgres"
      ? openPgStore({
          url: location.url,
          partitionSize: options.pgPartitionSize,
          commitTimeoutMs: options.pgCommitTimeoutMs,
          now: options.now,
          rollups: options.rollups,
        })
      : openSqliteStore({
          path: location.path,
          synchronous: options.sqliteSynchronous,
          now: options.now,
          rollups: options.rollups,
          backgroundCheckpoints: options.sqliteBackgroundCheckpoints,
        });
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
