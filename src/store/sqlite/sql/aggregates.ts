/** The SQLite statements of continuous aggregates (see `../sqlite-aggregates.ts`). */

const COLUMNS = `name, spec, created_at, created_seq, backfill_state, backfill_from, backfill_to, backfill_start_seq, backfill_cursor, published_until`;
export const LIST = `SELECT ${COLUMNS} FROM continuous_aggregates ORDER BY name`;
export const GET = `SELECT ${COLUMNS} FROM continuous_aggregates WHERE name = ?`;
export const INSERT = `INSERT INTO continuous_aggregates (name, spec, created_at, created_seq) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`;
export const DELETE = `DELETE FROM continuous_aggregates WHERE name = ?`;
export const DELETE_CELLS = `DELETE FROM aggregate_cells WHERE name = ?`;
export const CELLS = `SELECT t, grp, field, n, sum, min, max FROM aggregate_cells WHERE name = ? AND t >= ? AND t < ? ORDER BY t, grp, field`;
/** Adds one cell of a batch. */
export const UPSERT_CELL = `INSERT INTO aggregate_cells (name, t, grp, field, n, sum, min, max) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (name, t, grp, field) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
    min = min(aggregate_cells.min, excluded.min), max = max(aggregate_cells.max, excluded.max)`;
export const SET_BACKFILL = `UPDATE continuous_aggregates SET backfill_state = ?, backfill_from = ?, backfill_to = ?, backfill_start_seq = ?, backfill_cursor = ?
  WHERE name = ? AND backfill_cursor IS ?`;
export const SET_PUBLISHED = `UPDATE continuous_aggregates SET published_until = ? WHERE name = ? AND published_until IS ?`;
