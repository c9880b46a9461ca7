/**
 * Rollups: counts per topic × type × minute and per subscription × minute, written at commit by both stores, and the
 * hours and days derived from them (see docs/aggregation.md). This module holds what both dialects share: the
 * resolutions, the latency buckets, the requests and answers of the {@link RollupsPart}, and the aggregation in memory
 * of one batch, so that a batch costs one upsert per distinct bucket rather than one per event.
 */
import type { AttemptRecord } from "./types.js";

/** Bucket widths in ms; the `res` column of the rollup tables. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** The resolutions the stores keep, finest first. */
export const RESOLUTIONS = [MINUTE_MS, HOUR_MS, DAY_MS] as const;

/** Upper bounds (ms, inclusive) of the latency histogram's buckets; a tenth bucket takes the rest (+Inf). */
export const LATENCY_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000] as const;
/** The latency buckets' names on the wire: each upper bound in ms, then `+Inf`. */
export const LATENCY_LABELS: readonly string[] = [...LATENCY_BOUNDS_MS.map(String), "+Inf"];
/** Buckets of the latency histogram: the bounds and +Inf. */
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** A coarser resolution is derived only this long after its bucket closed, so that late minutes are in it. */
export const ROLLUP_LAG_MS = 5 * MINUTE_MS;

/** Event counts over time; `from`/`to` are epoch ms, `intervalMs` a multiple of a minute that divides a day. */
export interface EventStatsQuery {
  from: number;
  to: number;
  intervalMs: number;
  /** Exact topic names; with `topicPrefixes`, a topic matching either is counted. None of both: every topic. */
  topics?: string[];
  topicPrefixes?: string[];
  type?: string;
  /** Buckets per topic, per type, or per both; none: one per time. */
  groupBy?: ReadonlyArray<"topic" | "type">;
}

/** One bucket of {@link EventStatsQuery}: `topic` and `type` when grouped by them ('' for events without a type). */
export interface EventStatsBucket {
  t: number;
  topic?: string;
  type?: string;
  count: number;
  bytes: number;
}

/** Delivery attempts over time, of one subscription or of all. */
export interface DeliveryStatsQuery {
  from: number;
  to: number;
  intervalMs: number;
  subscriptionId?: string;
}

/** One bucket of {@link DeliveryStatsQuery}: attempts by outcome, and their latency histogram. */
export interface DeliveryStatsBucket {
  t: number;
  delivered: number;
  failed: number;
  dead: number;
  latencySumMs: number;
  /** Attempts per latency bucket (not cumulative), in the order of {@link LATENCY_BOUNDS_MS} then +Inf. */
  latencyCounts: number[];
}

/** Derives hours and days from minutes as of `now`, then removes each resolution's rows older than its retention. */
export interface RollUpRequest {
  now: number;
  /** Retention of each resolution in ms; 0 keeps it forever. Minutes and hours are kept until derived. */
  minuteRetentionMs: number;
  hourRetentionMs: number;
  dayRetentionMs: number;
}

/** The rollups of the store. */
export interface RollupsPart {
  /** Event counts and bytes per bucket (and group), buckets in time order; empty buckets are left out. */
  eventStats(query: EventStatsQuery): Promise<EventStatsBucket[]>;
  /** Delivery attempts per bucket, in time order; empty buckets are left out. */
  deliveryStats(query: DeliveryStatsQuery): Promise<DeliveryStatsBucket[]>;
  /** Housekeeping: derives closed hours and days (idempotent) and applies the resolutions' retention. */
  rollUp(request: RollUpRequest): Promise<void>;
}

/** A batch's event minutes as columns: one entry per distinct (minute, topic, type). */
export interface EventMinuteColumns {
  t: number[];
  topic: string[];
  type: string[];
  count: number[];
  bytes: number[];
}

/** What {@link eventMinutes} reads of an event. */
interface RolledEvent {
  topic: string;
  type: string | null;
  dataJson: string;
  receivedAt: number;
}

/**
 * The topic of the event rollups' rows that hold the sum over every topic, per (minute, type), written at commit beside
 * each topic's own: a query over every topic then reads one row per bucket and type instead of one per topic (topic
 * names are never empty).
 */
export const ALL_TOPICS = "";

/**
 * Aggregates a batch's stored events (in lists, e.g. one per request) by (minute received, topic, type), and by
 * (minute, type) under {@link ALL_TOPICS}.
 */
export function eventMinutes(lists: ReadonlyArray<readonly RolledEvent[]>): EventMinuteColumns {
  const out: EventMinuteColumns = { t: [], topic: [], type: [], count: [], bytes: [] };
  const index = new Map<string, number>();
  // Batches are mostly one topic, type and minute: a run of events like the previous one skips the map.
  let last = -1;
  for (const events of lists)
    for (const e of events) {
      const t = e.receivedAt - (e.receivedAt % MINUTE_MS);
      const type = e.type ?? "";
      const bytes = Buffer.byteLength(e.dataJson);
      let i = last;
      if (i < 0 || out.t[i] !== t || out.topic[i] !== e.topic || out.type[i] !== type) {
        const key = `${t}\u0000${e.topic}\u0000${type}`;
        i = index.get(key) ?? -1;
        if (i < 0) {
          i = out.t.length;
          index.set(key, i);
          out.t.push(t);
          out.topic.push(e.topic);
          out.type.push(type);
          out.count.push(0);
          out.bytes.push(0);
        }
        last = i;
      }
      out.count[i]!++;
      out.bytes[i]! += bytes;
    }
  addAllTopics(out);
  return out;
}

/** Appends to a batch's minutes their sums over every topic, per (minute, type): once per distinct row, not per event. */
function addAllTopics(out: EventMinuteColumns): void {
  const index = new Map<string, number>();
  for (let i = 0, rows = out.t.length; i < rows; i++) {
    const key = `${out.t[i]}\u0000${out.type[i]}`;
    let j = index.get(key);
    if (j === undefined) {
      j = out.t.length;
      index.set(key, j);
      out.t.push(out.t[i]!);
      out.topic.push(ALL_TOPICS);
      out.type.push(out.type[i]!);
      out.count.push(0);
      out.bytes.push(0);
    }
    out.count[j]! += out.count[i]!;
    out.bytes[j]! += out.bytes[i]!;
  }
}

/** The outcome an attempt counts as: each attempt counts once, as delivered, failed (to be retried) or dead. */
export function attemptOutcome(record: Pick<AttemptRecord, "status">): "delivered" | "failed" | "dead" {
  return record.status === "delivered" ? "delivered" : record.status === "dead" ? "dead" : "failed";
}

/** The histogram bucket of a latency: the first bound it does not exceed, or the last bucket (+Inf). */
export function latencyBucket(latencyMs: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) if (latencyMs <= LATENCY_BOUNDS_MS[i]!) return i;
  return LATENCY_BOUNDS_MS.length;
}

/** One (subscription, minute) of a batch of attempts, aggregated. */
export interface DeliveryMinute {
  subscriptionId: string;
  t: number;
  delivered: number;
  failed: number;
  dead: number;
  latencySum: number;
  h: number[];
}

/**
 * The subscription id of the delivery rollups' rows that hold the sum over every subscription, written at commit beside
 * each subscription's own: a query over every subscription then reads one row per bucket.
 */
export const ALL_SUBSCRIPTIONS = "";

/**
 * Aggregates a batch of attempts by (subscription, minute attempted), and by minute under {@link ALL_SUBSCRIPTIONS}.
 * The caller leaves out the attempts of unknown deliveries.
 */
export function deliveryMinutes(records: readonly AttemptRecord[]): DeliveryMinute[] {
  const byKey = new Map<string, DeliveryMinute>();
  for (const r of records) {
    const { subscriptionId } = r;
    const t = r.attemptedAt - (r.attemptedAt % MINUTE_MS);
    const outcome = attemptOutcome(r);
    const bucket = latencyBucket(r.latencyMs);
    for (const id of [subscriptionId, ALL_SUBSCRIPTIONS]) {
      const key = `${t}\u0000${id}`;
      let m = byKey.get(key);
      if (!m) {
        m = { subscriptionId: id, t, delivered: 0, failed: 0, dead: 0, latencySum: 0, h: new Array<number>(LATENCY_BUCKETS).fill(0) };
        byKey.set(key, m);
      }
      m[outcome]++;
      m.latencySum += r.latencyMs;
      m.h[bucket]!++;
    }
  }
  return [...byKey.values()];
}

/**
 * The parts of the range [from, to) each resolution answers, for buckets of `intervalMs`: a resolution that divides
 * the interval answers the buckets before its mark (what has been derived), the next finer one the rest up to its own
 * mark, and minutes the remainder. `marks` maps a resolution to its `rolled_until` (absent: nothing derived yet).
 */
export function rollupSources(
  from: number,
  to: number,
  intervalMs: number,
  marks: ReadonlyMap<number, number>,
): Array<{ res: number; from: number; to: number }> {
  const usable = RESOLUTIONS.filter((r) => r <= intervalMs && intervalMs % r === 0).reverse(); // coarsest first
  const sources: Array<{ res: number; from: number; to: number }> = [];
  let start = from;
  for (const res of usable) {
    const end = res === MINUTE_MS ? to : Math.min(to, marks.get(res) ?? start);
    if (end > start) sources.push({ res, from: start, to: end });
    if (end > start) start = end;
  }
  return sources;
}

/** Per resolution, the time before which its rows go: past its retention, and (minutes, hours) already derived. */
export function pruneBounds(r: RollUpRequest, marks: ReadonlyMap<number, number>): Array<{ res: number; before: number }> {
  const bounds: Array<{ res: number; before: number }> = [];
  const retention: Array<[number, number, number | undefined]> = [
    [MINUTE_MS, r.minuteRetentionMs, HOUR_MS],
    [HOUR_MS, r.hourRetentionMs, DAY_MS],
    [DAY_MS, r.dayRetentionMs, undefined],
  ];
  for (const [res, keep, coarser] of retention) {
    if (keep <= 0) continue;
    const derivedUntil = coarser === undefined ? Infinity : (marks.get(coarser) ?? -Infinity);
    const before = Math.min(r.now - keep, derivedUntil);
    if (Number.isFinite(before)) bounds.push({ res, before });
  }
  return bounds;
}
