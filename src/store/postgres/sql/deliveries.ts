/** The PostgreSQL statements of deliveries (see `../pg-deliveries.ts`). */
import { DELIVERY_MINUTES_CTE } from "./rollups.js";

/** New pending deliveries and the cursor, in one statement: one round trip, one transaction. */
export const ADD_DELIVERIES = `WITH added AS (
         INSERT INTO deliveries (id, subscription_id, event_seq, event_id, ordering_key, status, attempts, next_attempt_at, created_at, updated_at)
         SELECT u.id, $1, u.event_seq, u.event_id, u.ordering_key, 'pending', 0, u.next_attempt_at, $2, $2
         FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
           AS u(id, event_seq, event_id, ordering_key, next_attempt_at)
       )
       UPDATE subscriptions SET cursor_seq = greatest(cursor_seq, $8::bigint), updated_at = $2
       WHERE id = $1 AND $8::bigint IS NOT NULL`;
/**
 * {@link ADD_DELIVERIES} for several subscriptions in one statement: the deliveries of every request ($1–$7, a row
 * each, with its subscription and time) and each subscription's cursor ($8–$10, at most one a subscription).
 */
export const ADD_DELIVERIES_OF_MANY = `WITH added AS (
         INSERT INTO deliveries (id, subscription_id, event_seq, event_id, ordering_key, status, attempts, next_attempt_at, created_at, updated_at)
         SELECT u.id, u.subscription_id, u.event_seq, u.event_id, u.ordering_key, 'pending', 0, u.next_attempt_at, u.at, u.at
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
           AS u(id, subscription_id, event_seq, event_id, ordering_key, next_attempt_at, at)
       )
       UPDATE subscriptions s SET cursor_seq = greatest(s.cursor_seq, c.cursor_seq), updated_at = c.at
       FROM unnest($8::text[], $9::bigint[], $10::bigint[]) AS c(id, cursor_seq, at)
       WHERE s.id = c.id`;
/** Moves a subscription's cursor, never back. */
export const ADVANCE_CURSOR = `UPDATE subscriptions SET cursor_seq = greatest(cursor_seq, $2::bigint), updated_at = $3 WHERE id = $1`;
/**
 * Every attempt, every delivery's new state (its last record's) and the subscriptions' minutes (rollups) in one
 * statement; recording ends the claim.
 */
const RECORD_ATTEMPTS_UPDATE = `UPDATE deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
         last_status = u.last_status, last_error = u.last_error, updated_at = u.at,
         delivered_at = CASE WHEN u.status = 'delivered' THEN u.at ELSE d.delivered_at END,
         claimed_by = NULL, claim_expires_at = NULL
       FROM unnest($7::text[], $8::text[], $9::int[], $10::bigint[], $11::int[], $12::text[], $13::bigint[])
         AS u(id, status, attempts, next_attempt_at, last_status, last_error, at)
       WHERE d.id = u.id`;
const INSERT_ATTEMPTS = `INSERT INTO attempts (delivery_id, attempted_at, status_code, latency_ms, response_excerpt, error)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::float8[], $5::text[], $6::text[])`;
export const RECORD_ATTEMPTS = `WITH recorded AS (
         ${INSERT_ATTEMPTS}
       ), rolled AS (
         ${DELIVERY_MINUTES_CTE}
       )
       ${RECORD_ATTEMPTS_UPDATE}`;
/** {@link RECORD_ATTEMPTS} with the rollups off: no minutes, parameters $1..$13. */
export const RECORD_ATTEMPTS_WITHOUT_ROLLUPS = `WITH recorded AS (
         ${INSERT_ATTEMPTS}
       )
       ${RECORD_ATTEMPTS_UPDATE}`;
/** Claims the listed retries that are open, due and unclaimed (or whose claim expired); SKIP LOCKED. */
export const CLAIM_RETRIES = `UPDATE deliveries d SET claimed_by = $2, claim_expires_at = $3 + s.timeout_ms + $4
       FROM (SELECT d2.id, s.timeout_ms FROM deliveries d2 JOIN subscriptions s ON s.id = d2.subscription_id
             WHERE d2.id = ANY($1::text[]) AND d2.status IN ('pending', 'retrying') AND d2.next_attempt_at <= $3
               AND (d2.claimed_by IS NULL OR d2.claim_expires_at <= $3)
             FOR UPDATE OF d2 SKIP LOCKED) s
       WHERE d.id = s.id RETURNING d.id`;
/** Ends a node's claims on the listed deliveries. */
export const RELEASE_CLAIMS = `UPDATE deliveries SET claimed_by = NULL, claim_expires_at = NULL WHERE id = ANY($1::text[]) AND claimed_by = $2`;
/** Claims overdue retries of subscriptions whose holder stopped renewing its lease; SKIP LOCKED. */
export const CLAIM_DUE_RETRIES = `UPDATE deliveries d SET claimed_by = $1, claim_expires_at = $3 + s.timeout_ms + $4
       FROM (SELECT d2.id, s.timeout_ms FROM deliveries d2 JOIN subscriptions s ON s.id = d2.subscription_id
             WHERE d2.status = 'retrying' AND d2.next_attempt_at <= $2
               AND (d2.claimed_by IS NULL OR d2.claim_expires_at <= $3)
               AND s.active AND s.ordering = 'none'
               AND NOT EXISTS (SELECT 1 FROM subscription_leases l WHERE l.subscription_id = s.id AND l.expires_at >= $6)
             ORDER BY d2.next_attempt_at LIMIT $5
             FOR UPDATE OF d2 SKIP LOCKED) s
       WHERE d.id = s.id RETURNING d.*`;
/** A page of a subscription's open deliveries in (event_seq, id) order. */
export const DELIVERIES_OPEN = `SELECT * FROM deliveries WHERE subscription_id = $1 AND status IN ('pending', 'retrying')
         AND (event_seq > $2 OR (event_seq = $3 AND id > $4))
       ORDER BY event_seq, id LIMIT $5`;
export const DELIVERY_GET = `SELECT * FROM deliveries WHERE id = $1`;
export const ATTEMPTS_LIST = `SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY attempted_at, id`;
export const PRUNE_ATTEMPTS = `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < $1 ORDER BY attempted_at LIMIT $2)`;
