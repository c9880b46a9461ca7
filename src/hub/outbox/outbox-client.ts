import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { HubError } from "../../errors.js";
import type { Store } from "../../store/store.js";

/** An application's better-sqlite3 `Database`, as far as the outbox uses it. */
export interface SqliteOutboxClient {
  prepare(sql: string): { run(...params: unknown[]): unknown };
  transaction: unknown;
  readonly name: string;
  readonly open: boolean;
}

/** An application's `pg` `Client` or `PoolClient` (inside its transaction), as far as the outbox uses it. */
export interface PgOutboxClient {
  query(sql: string, params: unknown[]): Promise<unknown>;
}

/** Which kind of client the application passed, checked against the hub's store. */
export type OutboxClient = { dialect: "sqlite"; db: SqliteOutboxClient } | { dialect: "postgres"; client: PgOutboxClient };

/**
 * Tells a better-sqlite3 `Database` from a `pg` client, and refuses one that does not match the hub's store: a `pg`
 * client on a SQLite hub, a `Database` on another file, a `pg.Pool` (its queries would run outside the caller's
 * transaction).
 * @throws HubError SB_OUTBOX_CLIENT_INVALID
 */
export function outboxClientOf(value: unknown, store: Store): OutboxClient {
  const c = value as Record<string, unknown> | null;
  const isSqlite = typeof c?.prepare === "function" && typeof c.transaction === "function" && typeof c.name === "string";
  const isPg = !isSqlite && typeof c?.query === "function";
  if (!isSqlite && !isPg) {
    throw invalid(`expected the application's own database client (a pg client, or a better-sqlite3 Database), got ${describe(value)}`);
  }
  if (store.mode === "cluster") {
    if (isSqlite) throw invalid("the hub stores events in PostgreSQL: pass the pg client of your transaction, not a SQLite Database");
    if (typeof c!.totalCount === "number" && typeof c!.release !== "function") {
      throw invalid("pass the client your transaction runs on (`await pool.connect()`), not the pool: a pool's queries run outside it");
    }
    return { dialect: "postgres", client: value as PgOutboxClient };
  }
  if (isPg) throw invalid("the hub stores events in SQLite: pass your better-sqlite3 Database on the hub's file, not a pg client");
  const db = value as SqliteOutboxClient;
  if (!db.open) throw invalid("the SQLite Database is closed");
  if (store.path === undefined || store.path === ":memory:" || !sameFile(db.name, store.path)) {
    throw invalid(`the SQLite Database is on ${JSON.stringify(db.name)}, not on the hub's file ${JSON.stringify(store.path ?? ":memory:")}`);
  }
  return { dialect: "sqlite", db };
}

function sameFile(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

function describe(value: unknown): string {
  if (value === null || typeof value !== "object") return typeof value === "string" ? "a string" : String(value);
  return `an object (${value.constructor?.name ?? "no prototype"})`;
}

function invalid(details: string): HubError {
  return new HubError("SB_OUTBOX_CLIENT_INVALID", details);
}
