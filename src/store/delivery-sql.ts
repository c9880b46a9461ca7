/**
 * The delivery statements whose WHERE clause depends on the request, for both dialects: each passes how it writes
 * the n-th parameter (`?` in SQLite, `$n` in PostgreSQL).
 */
import type { DeliveryQuery, RetrySelection } from "./store.js";

/** Writes the placeholder of parameter number `n` (1-based). */
export type Placeholder = (n: number) => string;

/** A statement and its parameters. */
export interface BuiltSql {
  sql: string;
  params: unknown[];
}

function builder(ph: Placeholder): { params: unknown[]; p: (value: unknown) => string } {
  const params: unknown[] = [];
  return {
    params,
    p: (value) => {
      params.push(value);
      return ph(params.length);
    },
  };
}

/** A search of deliveries, newest first. */
export function searchDeliveriesSql(q: DeliveryQuery, ph: Placeholder): BuiltSql {
  const { params, p } = builder(ph);
  const where: string[] = [];
  if (q.subscriptionId !== undefined) where.push(`subscription_id = ${p(q.subscriptionId)}`);
  if (q.eventId !== undefined) where.push(`event_id = ${p(q.eventId)}`);
  if (q.status !== undefined) where.push(`status = ${p(q.status)}`);
  if (q.fromTime !== undefined) where.push(`created_at >= ${p(q.fromTime)}`);
  if (q.toTime !== undefined) where.push(`created_at < ${p(q.toTime)}`);
  if (q.beforeId !== undefined) where.push(`id < ${p(q.beforeId)}`);
  const sql = `SELECT * FROM deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ${p(q.limit)}`;
  return { sql, params };
}

/** Puts the selected deliveries back to pending for a new round, returning them. */
export function retryDeliveriesSql(selection: RetrySelection, now: number, ph: Placeholder): BuiltSql {
  const { params, p } = builder(ph);
  // Written twice: SQLite's `?` takes one value per mark.
  const [nextAttemptAt, updatedAt] = [p(now), p(now)];
  const where: string[] = [];
  if ("deliveryId" in selection) where.push(`id = ${p(selection.deliveryId)}`);
  else {
    where.push(`subscription_id = ${p(selection.subscriptionId)}`, "status = 'dead'");
    if (selection.fromTime !== undefined) where.push(`created_at >= ${p(selection.fromTime)}`);
    if (selection.toTime !== undefined) where.push(`created_at < ${p(selection.toTime)}`);
  }
  const sql = `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ${nextAttemptAt}, updated_at = ${updatedAt}
         WHERE ${where.join(" AND ")} RETURNING *`;
  return { sql, params };
}
