/** The SQLite statements of the store's lifecycle (see `../sqlite-store.ts`). */
import type { MigrationStatements } from "../../migrate.js";

export const MIGRATIONS: MigrationStatements = {
  createTable: `CREATE TABLE IF NOT EXISTS switchboard_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
  currentVersion: `SELECT coalesce(max(version), 0) AS v FROM switchboard_migrations`,
  record: `INSERT INTO switchboard_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
};
export const PING = `SELECT 1`;
