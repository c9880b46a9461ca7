/** The PostgreSQL statements of the store's lifecycle (see `../pg-store.ts`). */
import type { MigrationStatements } from "../../migrate.js";
import { MIGRATE_LOCK } from "./locks.js";

export const MIGRATIONS: MigrationStatements = {
  createTable: `CREATE TABLE IF NOT EXISTS switchboard_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`,
  currentVersion: `SELECT coalesce(max(version), 0) AS v FROM switchboard_migrations`,
  record: `INSERT INTO switchboard_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
};
/** Held for the whole of each migration's transaction, so nodes starting at once take turns. */
export const MIGRATE_LOCK_SQL = `SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`;
export const STATS = `SELECT coalesce(sum(event_count), 0)::bigint AS events, count(*) AS topics FROM topics`;
export const PING = `SELECT 1`;
