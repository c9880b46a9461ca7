import type Database from "better-sqlite3";
import { parseJsonText, rowMappers } from "../rows.js";

/** The row mappers of SQLite (JSON columns are text). */
export const SQLITE_ROWS = rowMappers(parseJsonText);

/** What the parts of one SQLite store share: the connection, the next seq and the topics known to exist. */
export interface SqliteState {
  readonly db: Database.Database;
  /** seq is assigned in memory (one process owns the file) and written in the same commit. */
  nextSeq: number;
  readonly knownTopics: Set<string>;
  readonly now: () => number;
}

/** Prepares each statement of `sql` on `db`, under the same names. */
export function prepareAll<K extends string>(db: Database.Database, sql: Record<K, string>): Record<K, Database.Statement> {
  const out = {} as Record<K, Database.Statement>;
  for (const name of Object.keys(sql) as K[]) out[name] = db.prepare(sql[name]);
  return out;
}

/**
 * A store part that runs the statements of one SQL module (`import * as SQL`) on `db`. They are prepared by
 * {@link SqlitePart.init}, which the store calls once migrations have run (the tables must exist first).
 */
export abstract class SqlitePart<K extends string> {
  protected s!: Record<K, Database.Statement>;

  constructor(
    protected readonly db: Database.Database,
    private readonly sql: Record<K, string>,
  ) {}

  /** Prepares the statements; after migrations. */
  init(): void {
    this.s = prepareAll(this.db, this.sql);
  }
}
