/** The SQLite statements of subscriptions (see `../sqlite-subscriptions.ts`). */

export const SUBSCRIPTION_INSERT = `INSERT INTO subscriptions (id, topic, url, filter, headers, secret, active, disabled_reason, ordering, retry_schedule,
           timeout_ms, max_in_flight, rate_limit, body, cursor_seq, failing_since, priority, created_at, updated_at,
           filter_syntax, filter_source)
         VALUES (@id, @topic, @url, @filter, @headers, @secret, @active, @disabled_reason, @ordering, @retry_schedule,
           @timeout_ms, @max_in_flight, @rate_limit, @body, @cursor_seq, @failing_since, @priority, @created_at, @updated_at,
           @filter_syntax, @filter_source)`;
export const SUBSCRIPTION_GET = `SELECT * FROM subscriptions WHERE id = ?`;
export const SUBSCRIPTION_LIST = `SELECT * FROM subscriptions ORDER BY id`;
export const SUBSCRIPTION_FIND = `SELECT * FROM subscriptions WHERE topic = ? AND url = ? ORDER BY id LIMIT 1`;
export const SUBSCRIPTION_DELETE = `DELETE FROM subscriptions WHERE id = ?`;
export const SUBSCRIPTION_ATTEMPTS_DELETE = `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = ?)`;
export const SUBSCRIPTION_DELIVERIES_DELETE = `DELETE FROM deliveries WHERE subscription_id = ?`;
