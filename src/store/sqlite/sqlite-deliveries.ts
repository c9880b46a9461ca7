import type Database from "better-sqlite3";
import { toAttempt, toDelivery, type AttemptRow, type DeliveryRow } from "../delivery-rows.js";
import { retryDeliveriesSql, searchDeliveriesSql } from "../delivery-sql.js";
import type * as T from "../store.js";
import * as SQL from "./sql/deliveries.js";
import type { SqliteRollups } from "./sqlite-rollups.js";
import { SqlitePart } from "./sqlite-state.js";

const QUESTION_MARK = (): string => "?";

/** SQLite deliveries, attempts and subscription cursors. */
export class SqliteDeliveries extends SqlitePart<keyof typeof SQL> implements T.DeliveriesPart {
  constructor(
    db: Database.Database,
    private readonly rollups: SqliteRollups,
  ) {
    super(db, SQL);
  }

  async add(request: T.AddDeliveriesRequest): Promise<void> {
    this.db.transaction(() => this.insert(request))();
  }

  async addAll(requests: T.AddDeliveriesRequest[]): Promise<void> {
    this.db.transaction(() => {
      for (const request of requests) this.insert(request);
    })();
  }

  private insert({ subscriptionId, deliveries, cursorSeq, now }: T.AddDeliveriesRequest): void {
    for (const d of deliveries) {
      this.s.DELIVERY_INSERT.run(d.id, subscriptionId, d.eventSeq, d.eventId, d.orderingKey, d.nextAttemptAt, now, now);
    }
    if (cursorSeq !== undefined) this.s.ADVANCE_CURSOR.run(cursorSeq, now, subscriptionId);
  }

  async advanceCursor({ subscriptionId, cursorSeq, now }: T.AdvanceCursorRequest): Promise<void> {
    this.s.ADVANCE_CURSOR.run(cursorSeq, now, subscriptionId);
  }

  async recordAttempts(records: T.AttemptRecord[]): Promise<void> {
    this.db.transaction(() => {
      // The attempts of deliveries that exist: only those count in the rollups.
      const known: T.AttemptRecord[] = [];
      for (const r of records) {
        this.s.ATTEMPT_INSERT.run(r.deliveryId, r.attemptedAt, r.statusCode, r.latencyMs, r.responseExcerpt, r.error);
        const { changes } = this.s.DELIVERY_UPDATE.run(
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
        if (changes > 0) known.push(r);
      }
      this.rollups.addAttempts(known);
    })();
  }

  async claimRetries({ nodeId, deliveryIds, now, marginMs }: T.ClaimRetriesRequest): Promise<string[]> {
    return this.db.transaction(() => deliveryIds.filter((id) => this.s.CLAIM_RETRY.run({ node: nodeId, now, margin: marginMs, id }).changes > 0))();
  }

  async releaseClaims({ nodeId, deliveryIds }: T.ReleaseClaimsRequest): Promise<void> {
    this.db.transaction(() => {
      for (const id of deliveryIds) this.s.RELEASE_CLAIM.run({ node: nodeId, id });
    })();
  }

  async claimDueRetries(r: T.ClaimDueRetriesRequest): Promise<T.Delivery[]> {
    if (r.limit <= 0) return [];
    const params = { node: r.nodeId, due: r.dueBefore, now: r.now, margin: r.marginMs, limit: r.limit, stale: r.leaseStaleBefore };
    const rows = this.s.CLAIM_DUE_RETRIES.all(params) as DeliveryRow[];
    return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  async listOpen({ subscriptionId, afterSeq, afterId, limit }: T.OpenDeliveriesQuery): Promise<T.Delivery[]> {
    // Without afterId the second branch never matches (no seq is -1): strictly after afterSeq.
    const rows = this.s.DELIVERIES_OPEN.all(subscriptionId, afterSeq, afterId === undefined ? -1 : afterSeq, afterId ?? "", limit);
    return (rows as DeliveryRow[]).map(toDelivery);
  }

  async get(id: string): Promise<T.Delivery | undefined> {
    const row = this.s.DELIVERY_GET.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  async search(q: T.DeliveryQuery): Promise<T.Delivery[]> {
    const { sql, params } = searchDeliveriesSql(q, QUESTION_MARK);
    return (this.db.prepare(sql).all(...params) as DeliveryRow[]).map(toDelivery);
  }

  async listAttempts(deliveryId: string): Promise<T.Attempt[]> {
    return (this.s.ATTEMPTS_LIST.all(deliveryId) as AttemptRow[]).map(toAttempt);
  }

  async retry(selection: T.RetrySelection, now: number): Promise<T.Delivery[]> {
    const { sql, params } = retryDeliveriesSql(selection, now, QUESTION_MARK);
    const rows = this.db.prepare(sql).all(...params) as DeliveryRow[];
    return rows.map(toDelivery).sort((a, b) => a.eventSeq - b.eventSeq);
  }

  async pruneAttempts({ before, limit }: T.PruneAttemptsRequest): Promise<number> {
    return this.s.PRUNE_ATTEMPTS.run(before, limit).changes;
  }
}
