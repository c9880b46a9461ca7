import type pg from "pg";
import { HubError } from "../../errors.js";
import type {
  Attempt,
  AttemptRecord,
  Delivery,
  DeliveryQuery,
  NewDelivery,
  RetrySelection,
  Subscription,
  SubscriptionPatch,
} from "../store.js";
import { toAttempt, toDelivery, type AttemptRow, type DeliveryRow } from "../delivery-rows.js";
import { inTransaction, isUniqueViolation } from "./pg-util.js";

interface SubscriptionRow {
  id: string;
  topic: string;
  url: string;
  filter: string | null;
  headers: Record<string, string>;
  secret: string;
  active: boolean;
  disabled_reason: string | null;
  ordering: "none" | "key";
  retry_schedule: number[];
  timeout_ms: number;
  max_in_flight: number;
  rate_limit: number | null;
  body: "data" | "envelope";
  cursor_seq: number;
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

function toSubscription(r: SubscriptionRow): Subscription {
  return {
    id: r.id,
    topic: r.topic,
    url: r.url,
    filter: r.filter,
    headers: r.headers,
    secret: r.secret,
    active: r.active,
    disabledReason: r.disabled_reason,
    ordering: r.ordering,
    retrySchedule: r.retry_schedule,
    timeoutMs: r.timeout_ms,
    maxInFlight: r.max_in_flight,
    rateLimit: r.rate_limit,
    body: r.body,
    cursorSeq: r.cursor_seq,
    failingSince: r.failing_since,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Column and value conversion for each patchable subscription field. */
const PATCH_COLUMNS: { [K in keyof SubscriptionPatch]-?: [string, (v: NonNullable<SubscriptionPatch[K]> | null) => unknown] } = {
  topic: ["topic", (v) => v],
  url: ["url", (v) => v],
  filter: ["filter", (v) => v],
  headers: ["headers", (v) => JSON.stringify(v)],
  secret: ["secret", (v) => v],
  active: ["active", (v) => v],
  disabledReason: ["disabled_reason", (v) => v],
  ordering: ["ordering", (v) => v],
  retrySchedule: ["retry_schedule", (v) => JSON.stringify(v)],
  timeoutMs: ["timeout_ms", (v) => v],
  maxInFlight: ["max_in_flight", (v) => v],
  rateLimit: ["rate_limit", (v) => v],
  body: ["body", (v) => v],
  failingSince: ["failing_since", (v) => v],
};

/** The subscription, delivery and attempt half of the PostgreSQL store. */
export class PgDeliveries {
  constructor(private readonly pool: pg.Pool) {}

  async createSubscription(sub: Subscription): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO subscriptions (id, topic, url, filter, headers, secret, active, disabled_reason, ordering, retry_schedule,
           timeout_ms, max_in_flight, rate_limit, body, cursor_seq, failing_since, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
        [
          sub.id,
          sub.topic,
          sub.url,
          sub.filter,
          JSON.stringify(sub.headers),
          sub.secret,
          sub.active,
          sub.disabledReason,
          sub.ordering,
          JSON.stringify(sub.retrySchedule),
          sub.timeoutMs,
          sub.maxInFlight,
          sub.rateLimit,
          sub.body,
          sub.cursorSeq,
          sub.failingSince,
          sub.createdAt,
          sub.updatedAt,
        ],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new HubError("SB_SUBSCRIPTION_EXISTS", `subscription ${JSON.stringify(sub.id)} already exists`);
      throw error;
    }
  }

  async getSubscription(id: string): Promise<Subscription | undefined> {
    const { rows } = await this.pool.query<SubscriptionRow>(`SELECT * FROM subscriptions WHERE id = $1`, [id]);
    return rows[0] && toSubscription(rows[0]);
  }

  async listSubscriptions(): Promise<Subscription[]> {
    return (await this.pool.query<SubscriptionRow>(`SELECT * FROM subscriptions ORDER BY id`)).rows.map(toSubscription);
  }

  async findSubscription(topic: string, url: string): Promise<Subscription | undefined> {
    const { rows } = await this.pool.query<SubscriptionRow>(
      `SELECT * FROM subscriptions WHERE topic = $1 AND url = $2 ORDER BY id LIMIT 1`,
      [topic, url],
    );
    return rows[0] && toSubscription(rows[0]);
  }

  async updateSubscription(id: string, patch: SubscriptionPatch, now: number): Promise<Subscription | undefined> {
    const params: unknown[] = [now];
    const sets = ["updated_at = $1"];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const column = PATCH_COLUMNS[key as keyof SubscriptionPatch];
      if (!column) throw new HubError("SB_INTERNAL", `unknown subscription field ${key}`);
      params.push((column[1] as (v: unknown) => unknown)(value));
      sets.push(`${column[0]} = $${params.length}`);
    }
    params.push(id);
    const { rows } = await this.pool.query<SubscriptionRow>(
      `UPDATE subscriptions SET ${sets.join(", ")} WHERE id = $${params.length} RETURNING *`,
      params,
    );
    return rows[0] && toSubscription(rows[0]);
  }

  async deleteSubscription(id: string): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await client.query(`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = $1)`, [id]);
      await client.query(`DELETE FROM deliveries WHERE subscription_id = $1`, [id]);
      return ((await client.query(`DELETE FROM subscriptions WHERE id = $1`, [id])).rowCount ?? 0) > 0;
    });
  }

  /**
   * The highest seq of the events received before `ms`: a binary search over seq, as in SQLite (received_at grows
   * with seq, up to the few ms a group commit spans). seq has gaps here (values of rolled-back requests), so each
   * probe reads the first event at or after a number, and the answer is a seq that exists.
   */
  async seqBefore(ms: number): Promise<number> {
    const { rows } = await this.pool.query<{ lo: number | null; hi: number | null }>(`SELECT min(seq) AS lo, max(seq) AS hi FROM events`);
    const { lo, hi } = rows[0]!;
    if (lo === null || hi === null) return 0;
    let low = lo;
    let high = hi + 1; // first seq (of the search space) received at or after ms lies in [low, high]
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const r = await this.pool.query<{ seq: number; received_at: number }>(
        `SELECT seq, received_at FROM events WHERE seq >= $1 ORDER BY seq LIMIT 1`,
        [mid],
      );
      const row = r.rows[0];
      if (row === undefined || row.received_at >= ms) high = mid;
      else low = row.seq + 1;
    }
    // low is the smallest number whose first event at or after it was received at or after ms (or none): the
    // answer is the highest stored seq below it.
    const before = await this.pool.query<{ seq: number | null }>(`SELECT max(seq) AS seq FROM events WHERE seq < $1`, [low]);
    return before.rows[0]!.seq ?? 0;
  }

  async addDeliveries(subscriptionId: string, deliveries: NewDelivery[], cursorSeq: number | undefined, now: number): Promise<void> {
    if (deliveries.length === 0 && cursorSeq === undefined) return;
    // One statement, so one round trip and one transaction: the deliveries and the cursor commit together.
    await this.pool.query(
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

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    if (records.length === 0) return;
    // A batch may hold several attempts of one delivery: its last record decides the state.
    const last = new Map<string, AttemptRecord>();
    for (const r of records) last.set(r.deliveryId, r);
    const states = [...last.values()];
    // One statement (one round trip, one transaction): every attempt, and every delivery's new state. Recording an
    // attempt ends its claim.
    await this.pool.query(
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

  async claimRetries(nodeId: string, deliveryIds: string[], now: number, marginMs: number): Promise<string[]> {
    if (deliveryIds.length === 0) return [];
    // SKIP LOCKED: a row another node is claiming right now is simply not ours.
    const { rows } = await this.pool.query<{ id: string }>(
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

  async claimDueRetries(nodeId: string, dueBefore: number, now: number, marginMs: number, limit: number, leaseStaleBefore: number): Promise<Delivery[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<DeliveryRow>(
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

  async openDeliveries(subscriptionId: string, afterSeq: number, limit: number, afterId?: string): Promise<Delivery[]> {
    // Without afterId the second branch never matches (no seq is -1): strictly after afterSeq.
    const { rows } = await this.pool.query<DeliveryRow>(
      `SELECT * FROM deliveries WHERE subscription_id = $1 AND status IN ('pending', 'retrying')
         AND (event_seq > $2 OR (event_seq = $3 AND id > $4))
       ORDER BY event_seq, id LIMIT $5`,
      [subscriptionId, afterSeq, afterId === undefined ? -1 : afterSeq, afterId ?? "", limit],
    );
    return rows.map(toDelivery);
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    const { rows } = await this.pool.query<DeliveryRow>(`SELECT * FROM deliveries WHERE id = $1`, [id]);
    return rows[0] && toDelivery(rows[0]);
  }

  async searchDeliveries(q: DeliveryQuery): Promise<Delivery[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const term = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if (q.subscriptionId !== undefined) term("subscription_id = ?", q.subscriptionId);
    if (q.eventId !== undefined) term("event_id = ?", q.eventId);
    if (q.status !== undefined) term("status = ?", q.status);
    if (q.fromTime !== undefined) term("created_at >= ?", q.fromTime);
    if (q.toTime !== undefined) term("created_at < ?", q.toTime);
    if (q.beforeId !== undefined) term("id < ?", q.beforeId);
    params.push(q.limit);
    const sql = `SELECT * FROM deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $${params.length}`;
    return (await this.pool.query<DeliveryRow>(sql, params)).rows.map(toDelivery);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    const { rows } = await this.pool.query<AttemptRow>(`SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY attempted_at, id`, [deliveryId]);
    return rows.map(toAttempt);
  }

  async retryDeliveries(selection: RetrySelection, now: number): Promise<Delivery[]> {
    const where: string[] = [];
    const params: unknown[] = [now];
    const term = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if ("deliveryId" in selection) term("id = ?", selection.deliveryId);
    else {
      term("subscription_id = ?", selection.subscriptionId);
      where.push("status = 'dead'");
      if (selection.fromTime !== undefined) term("created_at >= ?", selection.fromTime);
      if (selection.toTime !== undefined) term("created_at < ?", selection.toTime);
    }
    const { rows } = await this.pool.query<DeliveryRow>(
      `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1
       WHERE ${where.join(" AND ")} RETURNING *`,
      params,
    );
    return rows.map(toDelivery).sort((a, b) => a.eventSeq - b.eventSeq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async pruneAttempts(beforeMs: number, limit: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < $1 ORDER BY attempted_at LIMIT $2)`,
      [beforeMs, limit],
    );
    return result.rowCount ?? 0;
  }

  async acquireLeases(nodeId: string, subscriptionIds: string[], ttlMs: number, now: number): Promise<string[]> {
    if (subscriptionIds.length === 0) return [];
    const { rows } = await this.pool.query<{ subscription_id: string }>(
      `INSERT INTO subscription_leases (subscription_id, node_id, expires_at)
       SELECT DISTINCT u.id, $2::text, $3::bigint FROM unnest($1::text[]) AS u(id)
       ON CONFLICT (subscription_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
         WHERE subscription_leases.node_id = excluded.node_id OR subscription_leases.expires_at <= $4::bigint
       RETURNING subscription_id`,
      [subscriptionIds, nodeId, now + ttlMs, now],
    );
    return rows.map((r) => r.subscription_id);
  }

  async heartbeat(nodeId: string, now: number, ttlMs: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `WITH seen AS (
         INSERT INTO delivery_nodes (node_id, seen_at) VALUES ($1, $2)
         ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at
       ), gone AS (
         DELETE FROM delivery_nodes WHERE seen_at < $3::bigint - $4::bigint AND node_id <> $1
       )
       SELECT 1 + count(*)::int AS n FROM delivery_nodes WHERE seen_at >= $3 AND node_id <> $1`,
      [nodeId, now, now - ttlMs, ttlMs * 10],
    );
    return rows[0]!.n;
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.pool.query(`DELETE FROM delivery_nodes WHERE node_id = $1`, [nodeId]);
  }

  async releaseLeases(nodeId: string, subscriptionIds: string[]): Promise<void> {
    if (subscriptionIds.length === 0) return;
    await this.pool.query(`DELETE FROM subscription_leases WHERE node_id = $1 AND subscription_id = ANY($2::text[])`, [nodeId, subscriptionIds]);
  }
}
