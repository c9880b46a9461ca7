import pg from "pg";
import { HubError } from "../../errors.js";
import { jsonAsIs, rowMappers } from "../rows.js";

/** SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = "23505";

/** Whether `error` is PostgreSQL's unique violation (of `constraint`, when given). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string };
  return e?.code === UNIQUE_VIOLATION && (constraint === undefined || e.constraint === constraint);
}

/** Runs `fn` in a transaction on one pooled connection: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      // The connection is unusable: do not give it back to the pool.
      broken = rollbackError as Error;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Checks a connection out for one unit of work that must finish within `deadlineMs`: past it the connection is cut,
 * so every query on it fails at once ("Connection terminated", a 503) instead of waiting on a server that stopped
 * answering (a network partition; TCP alone would wait for many minutes). Call `done()` before releasing it.
 */
export async function connectWithDeadline(pool: pg.Pool, deadlineMs: number): Promise<{ client: pg.PoolClient; done: () => void }> {
  const client = await pool.connect();
  const timer = setTimeout(() => {
    const stream = (client as unknown as { connection?: { stream?: { destroy(error?: Error): void } } }).connection?.stream;
    stream?.destroy(new Error(`no answer from the database within ${deadlineMs} ms`));
  }, deadlineMs);
  timer.unref();
  return { client, done: () => clearTimeout(timer) };
}

/** bigint (int8) columns hold epoch ms, seqs and counts, all well inside 2^53: read them as numbers. */
const INT8_OID = 20;
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** What the parts of one PostgreSQL store share: the pool, with connection failures translated, and the clock. */
export interface PgContext {
  readonly pool: pg.Pool;
  /** A query on the pool, with connection failures translated. */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** The first row of a query as `map` turns it into a domain value, or undefined when there is none. */
  one<R extends pg.QueryResultRow, T>(sql: string, params: unknown[], map: (row: R) => T): Promise<T | undefined>;
  /** Every row of a query, each as `map` turns it into a domain value. */
  all<R extends pg.QueryResultRow, T>(sql: string, params: unknown[], map: (row: R) => T): Promise<T[]>;
  /** {@link inTransaction} on the pool, with connection failures translated. */
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** Awaits `promise`, translating connection failures. */
  wrap<T>(promise: Promise<T>): Promise<T>;
  readonly now: () => number;
  /** Whether commits write the rollups (stats); `SWITCHBOARD_ROLLUPS`. */
  readonly rollups: boolean;
}

/**
 * The rows as one array per column, in the order given: the array parameters of an `unnest($1::text[], …)`
 * statement. A column is a field of the row, or a function of the row for a value that needs converting.
 */
export function columnsOf<T>(rows: readonly T[], columns: ReadonlyArray<keyof T | ((row: T) => unknown)>): unknown[][] {
  return columns.map((column) => (typeof column === "function" ? rows.map((row) => column(row)) : rows.map((row) => row[column])));
}

/** The {@link PgContext} of a pool. */
export function pgContext(pool: pg.Pool, now: () => number, rollups = true): PgContext {
  const wrap = async <T>(promise: Promise<T>): Promise<T> => {
    try {
      return await promise;
    } catch (error) {
      throw translateError(error);
    }
  };
  const query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => wrap(pool.query<R>(sql, params));
  return {
    pool,
    now,
    rollups,
    wrap,
    query,
    async one<R extends pg.QueryResultRow, T>(sql: string, params: unknown[], map: (row: R) => T) {
      const { rows } = await query<R>(sql, params);
      return rows[0] && map(rows[0]);
    },
    async all<R extends pg.QueryResultRow, T>(sql: string, params: unknown[], map: (row: R) => T) {
      return (await query<R>(sql, params)).rows.map((row) => map(row));
    },
    transaction: (fn) => wrap(inTransaction(pool, fn)),
  };
}

/** An insert whose seq no partition covers. */
export function isNoPartition(error: unknown): boolean {
  return (error as { code?: string })?.code === "23514" && /no partition/i.test((error as Error).message ?? "");
}

/** A request that PostgreSQL refuses for its content (a NUL character in a text field) fails alone, as a 400. */
export function translateRequestError(error: unknown): Error {
  const code = (error as { code?: string })?.code;
  if (code === "22021" || code === "22P05") {
    return new HubError("SB_EVENT_INVALID", "text fields must not contain NUL characters", { cause: error });
  }
  return translateError(error) as Error;
}

/** Connection-level failures become SB_STORE_UNAVAILABLE (503), a full disk SB_STORE_FULL (507); anything else passes through unchanged. */
export function translateError(error: unknown): unknown {
  if (error instanceof HubError) return error;
  const e = error as { code?: string; message?: string };
  const code = e?.code ?? "";
  const connection =
    code.startsWith("08") || // connection exception
    code === "57P01" || // admin shutdown
    code === "57P02" || // crash shutdown
    code === "57P03" || // cannot connect now
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "ENOTFOUND" ||
    code === "ETIMEDOUT" ||
    /Connection terminated|Cannot use a pool after calling end|not queryable|timeout exceeded when trying to connect|Query read timeout|no answer from the database/i.test(
      e?.message ?? "",
    );
  if (code === "53100") return new HubError("SB_STORE_FULL", "the database's disk is full; nothing was stored, retry once space is freed", { cause: error });
  return connection ? new HubError("SB_STORE_UNAVAILABLE", "the database cannot be reached", { cause: error }) : error;
}

/** The row mappers of PostgreSQL (json columns arrive parsed). */
export const PG_ROWS = rowMappers(jsonAsIs);
