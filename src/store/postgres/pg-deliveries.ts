import { toAttempt, toDelivery, type AttemptRow, type DeliveryRow } from "../delivery-rows.js";
import { retryDeliveriesSql, searchDeliveriesSql } from "../delivery-sql.js";
import type {
  AddDeliveriesRequest,
  AdvanceCursorRequest,
  Attempt,
  AttemptRecord,
  ClaimDueRetriesRequest,
  ClaimRetriesRequest,
  DeliveriesPart,
  Delivery,
  DeliveryQuery,
  OpenDeliveriesQuery,
  PruneAttemptsRequest,
  RetrySelection,
} from "../store.js";
import type { PgContext } from "./pg-util.js";

const DOLLAR = (n: number): string => `$${n}`;

/** PostgreSQL deliveries, attempts and subscription cursors. */
export class PgDeliveries implements DeliveriesPart {
  constructor(private readonly ctx: PgContext) {}

  async add({ subscriptionId, deliveries, cursorSeq, now }: AddDeliveriesRequest): Promise<void> {
    if (deliveries.length === 0 && cursorSeq === undefined) return;
    // One statement, so one round trip and one transaction: the deliveries and the cursor commit together.
    await this.ctx.query(
      `WITH added AS (
         INSERT INTO deliveries (id, subscription_id, event_seq, event_id, ordering_key, status, attempts, next_attempt_at, created_at, updated_at)
         SELECT u.id, $1, u.event_seq, u.event_id, u.ordering_key, 'pending', 0, u.next_attempt_at, $2, $2
         FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
           AS u(id, event_seq, event_id, ordering_key, next_attempt_at)
       )
       UPDATE subscriptions SET cursor_seq = greatest(cursor_seq, $8::bigint), updated_at = $2
       WHERE id = $1 AND $8::bigint IS NOT NULL`,
      [
        subscriptionId,
        now,
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.eventSeq),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.orderingKey),
        deliveries.map((d) => d.nextAttemptAt),
        cursorSeq ?? null,
      ],
    );
  }

  async advanceCursor({ subscriptionId, cursorSeq, now }: AdvanceCursorRequest): Promise<void> {
    await this.ctx.query(`UPDATE subscriptions SET cursor_seq = greatest(cursor_seq, $2::bigint), updated_at = $3 WHERE id = $1`, [
      subscriptionId,
      cursorSeq,
      now,
    ]);
  }

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    if (records.length === 0) return;
    // A batch may hold several attempts of one delivery: its last record decides the state.
    const last = new Map<string, AttemptRecord>();
    for (const r of records) last.set(r.deliveryId, r);
    const states = [...last.values()];
    // One statement (one round trip, one transaction): every attempt, and every delivery's new state. Recording an
    // attempt ends its claim.
    await this.ctx.query(
      `WITH recorded AS (
         INSERT INTO attempts (delivery_id, attempted_at, status_code, latency_ms, response_excerpt, error)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::float8[], $5::text[], $6::text[])
       )
       UPDATE deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
         last_status = u.last_status, last_error = u.last_error, updated_at = u.at,
         delivered_at = CASE WHEN u.status = 'delivered' THEN u.at ELSE d.delivered_at END,
         claimed_by = NULL, claim_expires_at = NULL
       FROM unnest($7::text[], $8::text[], $9::int[], $10::bigint[], $11::int[], $12::text[], $13::bigint[])
         AS u(id, status, attempts, next_attempt_at, last_status, last_error, at)
       WHERE d.id = u.id`,
      [
        records.map((r) => r.deliveryId),
        records.map((r) => r.attemptedAt),
        records.map((r) => r.statusCode),
        records.map((r) => r.latencyMs),
        records.map((r) => r.responseExcerpt),
        records.map((r) => r.error),
        states.map((r) => r.deliveryId),
        states.map((r) => r.status),
        states.map((r) => r.attempts),
        states.map((r) => (r.status === "retrying" || r.status === "pending" ? r.nextAttemptAt : null)),
        states.map((r) => r.statusCode),
        states.map((r) => r.error),
        states.map((r) => r.attemptedAt),
      ],
    );
  }

  async claimRetries({ nodeId, deliveryIds, now, marginMs }: ClaimRetriesRequest): Promise<string[]> {
    if (deliveryIds.length === 0) return [];
    // SKIP LOCKED: a row another node is claiming right now is simply not ours.
    const { rows } = await this.ctx.query<{ id: string }>(
      `UPDATE deliveries d SET claimed_by = $2, claim_expires_at = $3 + s.timeout_ms + $4
       FROM (SELECT d2.id, s.timeout_ms FROM deliveries d2 JOIN subscriptions s ON s.id = d2.subscription_id
             WHERE d2.id = ANY($1::text[]) AND d2.status IN ('pending', 'retrying') AND d2.next_attempt_at <= $3
               AND (d2.claimed_by IS NULL OR d2.claim_expires_at <= $3)
             FOR UPDATE OF d2 SKIP LOCKED) s
       WHERE d.id = s.id RETURNING d.id`,
      [deliveryIds, nodeId, now, marginMs],
    );
    return rows.map((r) => r.id);
  }

  async claimDueRetries({ nodeId, dueBefore, now, marginMs, limit, leaseStaleBefore }: ClaimDueRetriesRequest): Promise<Delivery[]> {
    if (limit <= 0) return [];
    const { rows } = await this.ctx.query<DeliveryRow>(
      `UPDATE deliveries d SET claimed_by = $1, claim_expires_at = $3 + s.timeout_ms + $4
       FROM (SELECT d2.id, s.timeout_ms FROM deliveries d2 JOIN subscriptions s ON s.id = d2.subscription_id
             WHERE d2.status = 'retrying' AND d2.next_attempt_at <= $2
               AND (d2.claimed_by IS NULL OR d2.claim_expires_at <= $3)
               AND s.active AND s.ordering = 'none'
               AND NOT EXISTS (SELECT 1 FROM subscription_leases l WHERE l.subscription_id = s.id AND l.expires_at >= $6)
             ORDER BY d2.next_attempt_at LIMIT $5
             FOR UPDATE OF d2 SKIP LOCKED) s
       WHERE d.id = s.id RETURNING d.*`,
      [nodeId, dueBefore, now, marginMs, limit, leaseStaleBefore],
    );
    return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  async listOpen({ subscriptionId, afterSeq, afterId, limit }: OpenDeliveriesQuery): Promise<Delivery[]> {
    // Without afterId the second branch never matches (no seq is -1): strictly after afterSeq.
    const { rows } = await this.ctx.query<DeliveryRow>(
      `SELECT * FROM deliveries WHERE subscription_id = $1 AND status IN ('pending', 'retrying')
         AND (event_seq > $2 OR (event_seq = $3 AND id > $4))
       ORDER BY event_seq, id LIMIT $5`,
      [subscriptionId, afterSeq, afterId === undefined ? -1 : afterSeq, afterId ?? "", limit],
    );
    return rows.map(toDelivery);
  }

  async get(id: string): Promise<Delivery | undefined> {
    const { rows } = await this.ctx.query<DeliveryRow>(`SELECT * FROM deliveries WHERE id = $1`, [id]);
    return rows[0] && toDelivery(rows[0]);
  }

  async search(q: DeliveryQuery): Promise<Delivery[]> {
    const { sql, params } = searchDeliveriesSql(q, DOLLAR);
    return (await this.ctx.query<DeliveryRow>(sql, params)).rows.map(toDelivery);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    const { rows } = await this.ctx.query<AttemptRow>(`SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY attempted_at, id`, [deliveryId]);
    return rows.map(toAttempt);
  }

  async retry(selection: RetrySelection, now: number): Promise<Delivery[]> {
    const { sql, params } = retryDeliveriesSql(selection, now, DOLLAR);
    const { rows } = await this.ctx.query<DeliveryRow>(sql, params);
    return rows.map(toDelivery).sort((a, b) => a.eventSeq - b.eventSeq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async pruneAttempts({ before, limit }: PruneAttemptsRequest): Promise<number> {
    const result = await this.ctx.query(
      `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < $1 ORDER BY attempted_at LIMIT $2)`,
      [before, limit],
    );
    return result.rowCount ?? 0;
  }
}
