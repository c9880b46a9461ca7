/** The SQLite statements of rollups (see `../sqlite-rollups.ts`); the shared ones are in `../../rollup-sql.ts`. */
import { HISTOGRAM_COLUMNS, UPSERT_DELIVERY_ROLLUP_SET, UPSERT_EVENT_ROLLUP_SET } from "../../rollup-sql.js";

/** Adds one (minute, topic, type) of a batch. */
export const UPSERT_EVENT_MINUTE = `INSERT INTO event_rollups (res, t, topic, type, count, bytes) VALUES (60000, ?, ?, ?, ?, ?) ${UPSERT_EVENT_ROLLUP_SET}`;
/** Adds one (minute, subscription) of a batch of attempts. */
export const UPSERT_DELIVERY_MINUTE = `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, ${HISTOGRAM_COLUMNS})
         VALUES (60000, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ${UPSERT_DELIVERY_ROLLUP_SET}`;
export const MARKS = `SELECT res, rolled_until FROM rollup_marks`;
export const SET_MARK = `INSERT INTO rollup_marks (res, rolled_until) VALUES (?, ?) ON CONFLICT (res) DO UPDATE SET rolled_until = excluded.rolled_until`;
/** The start of the oldest bucket of a resolution, in either table. */
export const OLDEST = `SELECT min(x) AS t FROM (SELECT min(t) AS x FROM event_rollups WHERE res = @res UNION ALL SELECT min(t) FROM delivery_rollups WHERE res = @res)`;
export const PRUNE_EVENTS = `DELETE FROM event_rollups WHERE res = ? AND t < ?`;
export const PRUNE_DELIVERIES = `DELETE FROM delivery_rollups WHERE res = ? AND t < ?`;
