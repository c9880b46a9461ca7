/** The SQLite statements of deliveries and attempts (see `../sqlite-deliveries.ts`). */

/** Moves a subscription's cursor, never back. */
export const ADVANCE_CURSOR = `UPDATE subscriptions SET cursor_seq = max(cursor_seq, ?), updated_at = ? WHERE id = ?`;
export const DELIVERY_INSERT = `INSERT INTO deliveries (id, subscription_id, event_seq, event_id, ordering_key, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`;
export const ATTEMPT_INSERT = `INSERT INTO attempts (delivery_id, attempted_at, status_code, latency_ms, response_excerpt, error) VALUES (?, ?, ?, ?, ?, ?)`;
/** The state an attempt leaves its delivery in; recording an attempt ends its claim. */
export const DELIVERY_UPDATE = `UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?, updated_at = ?,
           delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, claimed_by = NULL, claim_expires_at = NULL
         WHERE id = ?`;
export const DELIVERIES_OPEN = `SELECT * FROM deliveries WHERE subscription_id = ? AND status IN ('pending', 'retrying')
           AND (event_seq > ? OR (event_seq = ? AND id > ?))
         ORDER BY event_seq, id LIMIT ?`;
export const DELIVERY_GET = `SELECT * FROM deliveries WHERE id = ?`;
export const ATTEMPTS_LIST = `SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempted_at, id`;
export const CLAIM_RETRY = `UPDATE deliveries SET claimed_by = @node,
           claim_expires_at = @now + @margin + (SELECT timeout_ms FROM subscriptions s WHERE s.id = deliveries.subscription_id)
         WHERE id = @id AND status IN ('pending', 'retrying') AND next_attempt_at <= @now
           AND (claimed_by IS NULL OR claim_expires_at <= @now)`;
/** Ends a node's claim on a delivery. */
export const RELEASE_CLAIM = `UPDATE deliveries SET claimed_by = NULL, claim_expires_at = NULL WHERE id = @id AND claimed_by = @node`;
export const CLAIM_DUE_RETRIES = `UPDATE deliveries SET claimed_by = @node, claim_expires_at = @now + @margin + (SELECT timeout_ms FROM subscriptions s WHERE s.id = deliveries.subscription_id)
         WHERE id IN (
           SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
           WHERE d.status = 'retrying' AND d.next_attempt_at <= @due AND (d.claimed_by IS NULL OR d.claim_expires_at <= @now)
             AND s.active = 1 AND s.ordering = 'none'
             AND NOT EXISTS (SELECT 1 FROM subscription_leases l WHERE l.subscription_id = s.id AND l.expires_at >= @stale)
           ORDER BY d.next_attempt_at LIMIT @limit)
         RETURNING *`;
export const PRUNE_ATTEMPTS = `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < ? ORDER BY attempted_at LIMIT ?)`;
