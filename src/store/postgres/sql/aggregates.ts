/** The PostgreSQL statements of continuous aggregates (see `../pg-aggregates.ts`). */
import { APPEND_LOCK } from "./locks.js";

const COLUMNS = `name, spec, created_at, created_seq, backfill_state, backfill_from, backfill_to, backfill_start_seq, backfill_cursor, published_until`;
export const LIST = `SELECT ${COLUMNS} FROM continuous_aggregates ORDER BY name`;
export const GET = `SELECT ${COLUMNS} FROM continuous_aggregates WHERE name = $1`;
/** Definitions change under the append lock, so that `created_seq` splits the events exactly (see pg-aggregates.ts). */
export const LOCK_APPENDS = `SELECT pg_advisory_xact_lock(${APPEND_LOCK})`;
export const INSERT = `WITH ins AS (
    INSERT INTO continuous_aggregates (name, spec, created_at, created_seq)
    SELECT $1, $2, $3, last_seq FROM store_state WHERE id = 1 ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}
  ), bump AS (UPDATE aggregates_version SET version = version + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM ins))
  SELECT * FROM ins`;
export const DELETE = `WITH cells AS (DELETE FROM aggregate_cells WHERE name = $1), del AS (DELETE FROM continuous_aggregates WHERE name = $1 RETURNING 1),
  bump AS (UPDATE aggregates_version SET version = version + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM del))
  SELECT count(*)::int AS n FROM del`;
export const VERSION = `SELECT version FROM aggregates_version WHERE id = 1`;
export const CELLS = `SELECT t, grp, field, n, sum, min, max FROM aggregate_cells WHERE name = $1 AND t >= $2 AND t < $3 ORDER BY t, grp, field`;
/**
 * Adds a batch's cells, one row per distinct (aggregate, bucket, group, field), at parameters `$n`..`$n+7`: name, t,
 * group, field, n, sum, min, max. `where`: what follows the unnest in FROM, a join or a condition the rows must meet
 * (the one-round-trip append's join of its reserved seqs).
 */
export function upsertCellsSql(n: number, where = ""): string {
  const p = (i: number) => `$${n + i}`;
  return `INSERT INTO aggregate_cells (name, t, grp, field, n, sum, min, max)
  SELECT c.* FROM unnest(${p(0)}::text[], ${p(1)}::bigint[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::bigint[], ${p(5)}::float8[], ${p(6)}::float8[], ${p(7)}::float8[])
    AS c(name, t, grp, field, n, sum, min, max) ${where}
  ON CONFLICT (name, t, grp, field) DO UPDATE SET n = aggregate_cells.n + excluded.n, sum = aggregate_cells.sum + excluded.sum,
    min = least(aggregate_cells.min, excluded.min), max = greatest(aggregate_cells.max, excluded.max)`;
}
/** {@link upsertCellsSql} as a statement of its own: parameters $1..$8. */
export const UPSERT_CELLS = upsertCellsSql(1);
/** The prepared-statement name of {@link UPSERT_CELLS} at commit. */
export const UPSERT_CELLS_STATEMENT_NAME = "switchboard_upsert_cells";
export const SET_BACKFILL = `UPDATE continuous_aggregates SET backfill_state = $1, backfill_from = $2, backfill_to = $3, backfill_start_seq = $4,
  backfill_cursor = $5 WHERE name = $6 AND backfill_cursor IS NOT DISTINCT FROM $7::bigint`;
export const SET_PUBLISHED = `UPDATE continuous_aggregates SET published_until = $1 WHERE name = $2 AND published_until IS NOT DISTINCT FROM $3::bigint`;
