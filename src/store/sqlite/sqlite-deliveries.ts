import type Database from "better-sqlite3";
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

interface SubscriptionRow {
  id: string;
  topic: string;
  url: string;
  filter: string | null;
  headers: string;
  secret: string;
  active: number;
  disabled_reason: string | null;
  ordering: "none" | "key";
  retry_schedule: string;
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
    headers: JSON.parse(r.headers) as Record<string, string>,
    secret: r.secret,
    active: r.active === 1,
    disabledReason: r.disabled_reason,
    ordering: r.ordering,
    retrySchedule: JSON.parse(r.retry_schedule) as number[],
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

const PATCH_COLUMNS: Record<keyof SubscriptionPatch, [string, (v: never) => unknown]> = {
  topic: ["topic", (v: string) => v],
  url: ["url", (v: string) => v],
  filter: ["filter", (v: string | null) => v],
  headers: ["headers", (v: Record<string, string>) => JSON.stringify(v)],
  secret: ["secret", (v: string) => v],
  active: ["active", (v: boolean) => (v ? 1 : 0)],
  disabledReason: ["disabled_reason", (v: string | null) => v],
  ordering: ["ordering", (v: string) => v],
  retrySchedule: ["retry_schedule", (v: number[]) => JSON.stringify(v)],
  timeoutMs: ["timeout_ms", (v: number) => v],
  maxInFlight: ["max_in_flight", (v: number) => v],
  rateLimit: ["rate_limit", (v: number | null) => v],
  body: ["body", (v: string) => v],
  failingSince: ["failing_since", (v: number | null) => v],
};

/** The subscription, delivery and attempt half of the SQLite store. */
export class SqliteDeliveries {
  private readonly db: Database.Database;
  private readonly s;

  constructor(db: Database.Database) {
    this.db = db;
    this.s = {
      subInsert: db.prepare(
        `INSERT INTO subscriptions (id, topic, url, filter, headers, secret, active, disabled_reason, ordering, retry_schedule,
           timeout_ms, max_in_flight, rate_limit, body, cursor_seq, failing_since, created_at, updated_at)
         VALUES (@id, @topic, @url, @filter, @headers, @secret, @active, @disabled_reason, @ordering, @retry_schedule,
           @timeout_ms, @max_in_flight, @rate_limit, @body, @cursor_seq, @failing_since, @created_at, @updated_at)`,
      ),
      subGet: db.prepare(`SELECT * FROM subscriptions WHERE id = ?`),
      subList: db.prepare(`SELECT * FROM subscriptions ORDER BY id`),
      subFind: db.prepare(`SELECT * FROM subscriptions WHERE topic = ? AND url = ? ORDER BY id LIMIT 1`),
      subDelete: db.prepare(`DELETE FROM subscriptions WHERE id = ?`),
      subAttemptsDelete: db.prepare(`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = ?)`),
      subDeliveriesDelete: db.prepare(`DELETE FROM deliveries WHERE subscription_id = ?`),
      subCursor: db.prepare(`UPDATE subscriptions SET cursor_seq = max(cursor_seq, ?), updated_at = ? WHERE id = ?`),
      deliveryInsert: db.prepare(
        `INSERT INTO deliveries (id, subscription_id, event_seq, event_id, ordering_key, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`,
      ),
      attemptInsert: db.prepare(
        `INSERT INTO attempts (delivery_id, attempted_at, status_code, latency_ms, response_excerpt, error) VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      deliveryUpdate: db.prepare(
        `UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?, updated_at = ?,
           delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, claimed_by = NULL, claim_expires_at = NULL
         WHERE id = ?`,
      ),
      deliveriesOpen: db.prepare(
        `SELECT * FROM deliveries WHERE subscription_id = ? AND status IN ('pending', 'retrying')
           AND (event_seq > ? OR (event_seq = ? AND id > ?))
         ORDER BY event_seq, id LIMIT ?`,
      ),
      deliveryGet: db.prepare(`SELECT * FROM deliveries WHERE id = ?`),
      attemptsList: db.prepare(`SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempted_at, id`),
      seqBefore: db.prepare(`SELECT received_at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1`),
      seqBounds: db.prepare(`SELECT min(seq) AS lo, max(seq) AS hi FROM events`),
      leaseAcquire: db.prepare(
        `INSERT INTO subscription_leases (subscription_id, node_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (subscription_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
           WHERE subscription_leases.node_id = excluded.node_id OR subscription_leases.expires_at <= ?`,
      ),
      leaseRelease: db.prepare(`DELETE FROM subscription_leases WHERE node_id = ? AND subscription_id = ?`),
      nodeSeen: db.prepare(`INSERT INTO delivery_nodes (node_id, seen_at) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at`),
      nodesForget: db.prepare(`DELETE FROM delivery_nodes WHERE seen_at < ? AND node_id <> ?`),
      nodesCount: db.prepare(`SELECT count(*) AS n FROM delivery_nodes WHERE seen_at >= ? AND node_id <> ?`),
      nodeRemove: db.prepare(`DELETE FROM delivery_nodes WHERE node_id = ?`),
      claimRetry: db.prepare(
        `UPDATE deliveries SET claimed_by = @node,
           claim_expires_at = @now + @margin + (SELECT timeout_ms FROM subscriptions s WHERE s.id = deliveries.subscription_id)
         WHERE id = @id AND status IN ('pending', 'retrying') AND next_attempt_at <= @now
           AND (claimed_by IS NULL OR claim_expires_at <= @now)`,
      ),
      claimDue: db.prepare(
        `UPDATE deliveries SET claimed_by = @node, claim_expires_at = @now + @margin + (SELECT timeout_ms FROM subscriptions s WHERE s.id = deliveries.subscription_id)
         WHERE id IN (
           SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
           WHERE d.status = 'retrying' AND d.next_attempt_at <= @due AND (d.claimed_by IS NULL OR d.claim_expires_at <= @now)
             AND s.active = 1 AND s.ordering = 'none'
             AND NOT EXISTS (SELECT 1 FROM subscription_leases l WHERE l.subscription_id = s.id AND l.expires_at >= @stale)
           ORDER BY d.next_attempt_at LIMIT @limit)
         RETURNING *`,
      ),
      prune: db.prepare(`DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < ? ORDER BY attempted_at LIMIT ?)`),
    };
  }

  createSubscription(sub: Subscription): void {
    this.s.subInsert.run({
      id: sub.id,
      topic: sub.topic,
      url: sub.url,
      filter: sub.filter,
      headers: JSON.stringify(sub.headers),
      secret: sub.secret,
      active: sub.active ? 1 : 0,
      disabled_reason: sub.disabledReason,
      ordering: sub.ordering,
      retry_schedule: JSON.stringify(sub.retrySchedule),
      timeout_ms: sub.timeoutMs,
      max_in_flight: sub.maxInFlight,
      rate_limit: sub.rateLimit,
      body: sub.body,
      cursor_seq: sub.cursorSeq,
      failing_since: sub.failingSince,
      created_at: sub.createdAt,
      updated_at: sub.updatedAt,
    });
  }

  getSubscription(id: string): Subscription | undefined {
    const row = this.s.subGet.get(id) as SubscriptionRow | undefined;
    return row && toSubscription(row);
  }

  listSubscriptions(): Subscription[] {
    return (this.s.subList.all() as SubscriptionRow[]).map(toSubscription);
  }

  findSubscription(topic: string, url: string): Subscription | undefined {
    const row = this.s.subFind.get(topic, url) as SubscriptionRow | undefined;
    return row && toSubscription(row);
  }

  updateSubscription(id: string, patch: SubscriptionPatch, now: number): Subscription | undefined {
    const sets = ["updated_at = ?"];
    const params: unknown[] = [now];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const column = PATCH_COLUMNS[key as keyof SubscriptionPatch];
      if (!column) throw new HubError("SB_INTERNAL", `unknown subscription field ${key}`);
      sets.push(`${column[0]} = ?`);
      params.push(column[1](value as never));
    }
    params.push(id);
    const info = this.db.prepare(`UPDATE subscriptions SET ${sets.join(", ")} WHERE id = ?`).run(...params);
    return info.changes === 0 ? undefined : this.getSubscription(id);
  }

  deleteSubscription(id: string): boolean {
    return this.db.transaction(() => {
      this.s.subAttemptsDelete.run(id);
      this.s.subDeliveriesDelete.run(id);
      return this.s.subDelete.run(id).changes > 0;
    })();
  }

  /** Binary search over seq: received_at grows with seq (up to the few ms a group commit spans). */
  seqBefore(ms: number): number {
    const { lo, hi } = this.s.seqBounds.get() as { lo: number | null; hi: number | null };
    if (lo === null || hi === null) return 0;
    let low = lo;
    let high = hi + 1; // first seq received at or after ms lies in [low, high]
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const row = this.s.seqBefore.get(mid) as { received_at: number } | undefined;
      if (row === undefined || row.received_at >= ms) high = mid;
      else low = mid + 1;
    }
    return low - 1;
  }

  addDeliveries(subscriptionId: string, deliveries: NewDelivery[], cursorSeq: number | undefined, now: number): void {
    this.db.transaction(() => {
      for (const d of deliveries) {
        this.s.deliveryInsert.run(d.id, subscriptionId, d.eventSeq, d.eventId, d.orderingKey, d.nextAttemptAt, now, now);
      }
      if (cursorSeq !== undefined) this.s.subCursor.run(cursorSeq, now, subscriptionId);
    })();
  }

  recordAttempts(records: AttemptRecord[]): void {
    this.db.transaction(() => {
      for (const r of records) {
        this.s.attemptInsert.run(r.deliveryId, r.attemptedAt, r.statusCode, r.latencyMs, r.responseExcerpt, r.error);
        this.s.deliveryUpdate.run(
          r.status,
          r.attempts,
          r.status === "retrying" || r.status === "pending" ? r.nextAttemptAt : null,
          r.statusCode,
          r.error,
          r.attemptedAt,
          r.status,
          r.attemptedAt,
          r.deliveryId,
        );
      }
    })();
  }

  claimRetries(nodeId: string, deliveryIds: string[], now: number, marginMs: number): string[] {
    return this.db.transaction(() => deliveryIds.filter((id) => this.s.claimRetry.run({ node: nodeId, now, margin: marginMs, id }).changes > 0))();
  }

  claimDueRetries(nodeId: string, dueBefore: number, now: number, marginMs: number, limit: number, leaseStaleBefore: number): Delivery[] {
    if (limit <= 0) return [];
    const rows = this.s.claimDue.all({ node: nodeId, due: dueBefore, now, margin: marginMs, limit, stale: leaseStaleBefore }) as DeliveryRow[];
    return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  openDeliveries(subscriptionId: string, afterSeq: number, limit: number, afterId?: string): Delivery[] {
    // Without afterId the second branch never matches (no seq is -1): strictly after afterSeq.
    const rows = this.s.deliveriesOpen.all(subscriptionId, afterSeq, afterId === undefined ? -1 : afterSeq, afterId ?? "", limit);
    return (rows as DeliveryRow[]).map(toDelivery);
  }

  getDelivery(id: string): Delivery | undefined {
    const row = this.s.deliveryGet.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  searchDeliveries(q: DeliveryQuery): Delivery[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.subscriptionId !== undefined) {
      where.push("subscription_id = ?");
      params.push(q.subscriptionId);
    }
    if (q.eventId !== undefined) {
      where.push("event_id = ?");
      params.push(q.eventId);
    }
    if (q.status !== undefined) {
      where.push("status = ?");
      params.push(q.status);
    }
    if (q.fromTime !== undefined) {
      where.push("created_at >= ?");
      params.push(q.fromTime);
    }
    if (q.toTime !== undefined) {
      where.push("created_at < ?");
      params.push(q.toTime);
    }
    if (q.beforeId !== undefined) {
      where.push("id < ?");
      params.push(q.beforeId);
    }
    params.push(q.limit);
    const sql = `SELECT * FROM deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params) as DeliveryRow[]).map(toDelivery);
  }

  listAttempts(deliveryId: string): Attempt[] {
    return (this.s.attemptsList.all(deliveryId) as AttemptRow[]).map(toAttempt);
  }

  retryDeliveries(selection: RetrySelection, now: number): Delivery[] {
    const where: string[] = [];
    const params: unknown[] = [now, now];
    if ("deliveryId" in selection) {
      where.push("id = ?");
      params.push(selection.deliveryId);
    } else {
      where.push("subscription_id = ?", "status = 'dead'");
      params.push(selection.subscriptionId);
      if (selection.fromTime !== undefined) {
        where.push("created_at >= ?");
        params.push(selection.fromTime);
      }
      if (selection.toTime !== undefined) {
        where.push("created_at < ?");
        params.push(selection.toTime);
      }
    }
    const rows = this.db
      .prepare(
        `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
         WHERE ${where.join(" AND ")} RETURNING *`,
      )
      .all(...params) as DeliveryRow[];
    return rows.map(toDelivery).sort((a, b) => a.eventSeq - b.eventSeq);
  }

  pruneAttempts(beforeMs: number, limit: number): number {
    return this.s.prune.run(beforeMs, limit).changes;
  }

  /** One process owns a SQLite file, so its one node normally holds every lease; the rules are the same as PostgreSQL's. */
  acquireLeases(nodeId: string, subscriptionIds: string[], ttlMs: number, now: number): string[] {
    return this.db.transaction(() => {
      const held: string[] = [];
      for (const id of new Set(subscriptionIds)) {
        if (this.s.leaseAcquire.run(id, nodeId, now + ttlMs, now).changes > 0) held.push(id);
      }
      return held;
    })();
  }

  heartbeat(nodeId: string, now: number, ttlMs: number): number {
    return this.db.transaction(() => {
      this.s.nodeSeen.run(nodeId, now);
      this.s.nodesForget.run(now - ttlMs * 10, nodeId);
      return 1 + (this.s.nodesCount.get(now - ttlMs, nodeId) as { n: number }).n;
    })();
  }

  removeNode(nodeId: string): void {
    this.s.nodeRemove.run(nodeId);
  }

  releaseLeases(nodeId: string, subscriptionIds: string[]): void {
    this.db.transaction(() => {
      for (const id of subscriptionIds) this.s.leaseRelease.run(nodeId, id);
    })();
  }
}
