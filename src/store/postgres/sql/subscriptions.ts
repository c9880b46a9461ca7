/** The PostgreSQL statements of subscriptions (see `../pg-subscriptions.ts`). */

export const SUBSCRIPTION_INSERT = `INSERT INTO subscriptions (id, topic, url, filter, headers, secret, active, disabled_reason, ordering, retry_schedule,
           timeout_ms, max_in_flight, rate_limit, body, cursor_seq, failing_since, created_at, updated_at, priority,
           filter_syntax, filter_source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`;
export const SUBSCRIPTION_GET = `SELECT * FROM subscriptions WHERE id = $1`;
export const SUBSCRIPTION_LIST = `SELECT * FROM subscriptions ORDER BY id`;
export const SUBSCRIPTION_FIND = `SELECT * FROM subscriptions WHERE topic = $1 AND url = $2 ORDER BY id LIMIT 1`;
export const SUBSCRIPTION_ATTEMPTS_DELETE = `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = $1)`;
export const SUBSCRIPTION_DELIVERIES_DELETE = `DELETE FROM deliveries WHERE subscription_id = $1`;
export const SUBSCRIPTION_DELETE = `DELETE FROM subscriptions WHERE id = $1`;
