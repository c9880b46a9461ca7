import { toAttempt, toDelivery, type DeliveryRow } from "../delivery-rows.js";
import { retryDeliveriesSql, searchDeliveriesSql } from "../delivery-sql.js";
import { attemptOutcome, latencyBucket } from "../rollups.js";
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
  ReleaseClaimsRequest,
  RetrySelection,
} from "../store.js";
import { columnsOf, type PgContext } from "./pg-util.js";
import {
  ADD_DELIVERIES,
  ADD_DELIVERIES_OF_MANY,
  ADVANCE_CURSOR,
  ATTEMPTS_LIST,
  CLAIM_DUE_RETRIES,
  CLAIM_RETRIES,
  DELIVERIES_OPEN,
  DELIVERY_GET,
  PRUNE_ATTEMPTS,
  RECORD_ATTEMPTS,
  RECORD_ATTEMPTS_WITHOUT_ROLLUPS,
  RELEASE_CLAIMS,
} from "./sql/deliveries.js";

const DOLLAR = (n: number): string => `$${n}`;

/** PostgreSQL deliveries, attempts and subscription cursors. */
export class PgDeliveries implements DeliveriesPart {
  constructor(private readonly ctx: PgContext) {}

  async add({ subscriptionId, deliveries, cursorSeq, now }: AddDeliveriesRequest): Promise<void> {
    if (deliveries.length === 0 && cursorSeq === undefined) return;
    // One statement, so one round trip and one transaction: the deliveries and the cursor commit together.
    await this.ctx.query(ADD_DELIVERIES, [
      subscriptionId,
      now,
      ...columnsOf(deliveries, ["id", "eventSeq", "eventId", "orderingKey", "nextAttemptAt"]),
      cursorSeq ?? null,
    ]);
  }

  async addAll(requests: AddDeliveriesRequest[]): Promise<void> {
    const rows = requests.flatMap((r) => r.deliveries.map((d) => ({ ...d, subscriptionId: r.subscriptionId, at: r.now })));
    // One cursor a subscription (an UPDATE takes one joined row a subscription): the furthest.
    const cursors = new Map<string, { id: string; seq: number; at: number }>();
    for (const r of requests) {
      const seen = cursors.get(r.subscriptionId);
      if (r.cursorSeq !== undefined && (seen === undefined || r.cursorSeq > seen.seq))
        cursors.set(r.subscriptionId, { id: r.subscriptionId, seq: r.cursorSeq, at: r.now });
    }
    if (rows.length === 0 && cursors.size === 0) return;
    await this.ctx.query(ADD_DELIVERIES_OF_MANY, [
      ...columnsOf(rows, ["id", "subscriptionId", "eventSeq", "eventId", "orderingKey", "nextAttemptAt", "at"]),
      ...columnsOf([...cursors.values()], ["id", "seq", "at"]),
    ]);
  }

  async advanceCursor({ subscriptionId, cursorSeq, now }: AdvanceCursorRequest): Promise<void> {
    await this.ctx.query(ADVANCE_CURSOR, [subscriptionId, cursorSeq, now]);
  }

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    if (records.length === 0) return;
    // A batch may hold several attempts of one delivery: its last record decides the state.
    const last = new Map<string, AttemptRecord>();
    for (const r of records) last.set(r.deliveryId, r);
    const states = [...last.values()];
    // One statement (one round trip, one transaction): every attempt, and every delivery's new state. Recording an
    // attempt ends its claim.
    const rollups = this.ctx.rollups;
    await this.ctx.query(rollups ? RECORD_ATTEMPTS : RECORD_ATTEMPTS_WITHOUT_ROLLUPS, [
      ...columnsOf(records, ["deliveryId", "attemptedAt", "statusCode", "latencyMs", "responseExcerpt", "error"]),
      ...columnsOf(states, [
        "deliveryId",
        "status",
        "attempts",
        (r) => (r.status === "retrying" || r.status === "pending" ? r.nextAttemptAt : null),
        "statusCode",
        "error",
        "attemptedAt",
      ]),
      ...(rollups ? [records.map(attemptOutcome), records.map((r) => latencyBucket(r.latencyMs))] : []),
    ]);
  }

  async claimRetries({ nodeId, deliveryIds, now, marginMs }: ClaimRetriesRequest): Promise<string[]> {
    if (deliveryIds.length === 0) return [];
    // SKIP LOCKED: a row another node is claiming right now is simply not ours.
    const { rows } = await this.ctx.query<{ id: string }>(CLAIM_RETRIES, [deliveryIds, nodeId, now, marginMs]);
    return rows.map((r) => r.id);
  }

  async releaseClaims({ nodeId, deliveryIds }: ReleaseClaimsRequest): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.ctx.query(RELEASE_CLAIMS, [deliveryIds, nodeId]);
  }

  async claimDueRetries({ nodeId, dueBefore, now, marginMs, limit, leaseStaleBefore }: ClaimDueRetriesRequest): Promise<Delivery[]> {
    if (limit <= 0) return [];
    const { rows } = await this.ctx.query<DeliveryRow>(CLAIM_DUE_RETRIES, [nodeId, dueBefore, now, marginMs, limit, leaseStaleBefore]);
    return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  async listOpen({ subscriptionId, afterSeq, afterId, limit }: OpenDeliveriesQuery): Promise<Delivery[]> {
    // Without afterId the second branch never matches (no seq is -1): strictly after afterSeq.
    const { rows } = await this.ctx.query<DeliveryRow>(DELIVERIES_OPEN, [
      subscriptionId,
      afterSeq,
      afterId === undefined ? -1 : afterSeq,
      afterId ?? "",
      limit,
    ]);
    return rows.map(toDelivery);
  }

  async get(id: string): Promise<Delivery | undefined> {
    return this.ctx.one(DELIVERY_GET, [id], toDelivery);
  }

  async search(q: DeliveryQuery): Promise<Delivery[]> {
    const { sql, params } = searchDeliveriesSql(q, DOLLAR);
    return this.ctx.all(sql, params, toDelivery);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    return this.ctx.all(ATTEMPTS_LIST, [deliveryId], toAttempt);
  }

  async retry(selection: RetrySelection, now: number): Promise<Delivery[]> {
    const { sql, params } = retryDeliveriesSql(selection, now, DOLLAR);
    const { rows } = await this.ctx.query<DeliveryRow>(sql, params);
    return rows.map(toDelivery).sort((a, b) => a.eventSeq - b.eventSeq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async pruneAttempts({ before, limit }: PruneAttemptsRequest): Promise<number> {
    const result = await this.ctx.query(PRUNE_ATTEMPTS, [before, limit]);
    return result.rowCount ?? 0;
  }
}
