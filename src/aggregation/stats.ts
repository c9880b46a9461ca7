/**
 * The stats endpoints' domain: event counts and delivery outcomes over time, answered from the rollups (see
 * docs/aggregation.md). Requests are checked here; the store reads the rollups.
 */
import { HubError } from "../errors.js";
import { compileTopicPattern, topicPatternProblem, type TopicMatcher } from "../routing/topic-pattern.js";
import { DAY_MS, HOUR_MS, MINUTE_MS, type DeliveryStatsBucket, type EventStatsBucket, type EventStatsQuery } from "../store/rollups.js";
import type { Store } from "../store/store.js";

/** The intervals the stats endpoints take, by name. */
export const STATS_INTERVALS: Readonly<Record<string, number>> = { "1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "1h": HOUR_MS, "1d": DAY_MS };
/** Most buckets one request may span, so that its cost is bounded (a day of minutes is 1440). */
export const MAX_STATS_BUCKETS = 10_000;
/** Without `from`, the last day; without `interval`, hours. */
export const DEFAULT_STATS_SPAN_MS = DAY_MS;

/** A stats request in domain terms; times are epoch ms. */
export interface StatsInput {
  from?: number;
  to?: number;
  /** A name of {@link STATS_INTERVALS}. */
  interval?: string;
}

/** An event stats request. */
export interface EventStatsInput extends StatsInput {
  /** Topic names and patterns; empty for every topic. */
  topics?: string[];
  type?: string;
  groupBy?: string;
}

/** The range and interval of a request, checked; `from` and `to` are aligned on the interval (UTC). */
export function statsRange(input: StatsInput, now: number): { from: number; to: number; intervalMs: number } {
  const name = input.interval ?? "1h";
  const intervalMs = STATS_INTERVALS[name];
  if (intervalMs === undefined)
    throw new HubError("SB_QUERY_INVALID", `interval must be one of ${Object.keys(STATS_INTERVALS).join(", ")}, got ${JSON.stringify(name)}`);
  const to = input.to ?? now;
  const from = input.from ?? to - DEFAULT_STATS_SPAN_MS;
  if (from > to) throw new HubError("SB_QUERY_INVALID_TIME", "from is after to");
  const alignedFrom = Math.floor(from / intervalMs) * intervalMs;
  const alignedTo = Math.ceil(to / intervalMs) * intervalMs;
  const buckets = (alignedTo - alignedFrom) / intervalMs;
  if (buckets > MAX_STATS_BUCKETS) {
    throw new HubError(
      "SB_QUERY_INVALID",
      `from..to spans ${buckets} buckets of ${name}; at most ${MAX_STATS_BUCKETS}: use a larger interval or a shorter range`,
    );
  }
  return { from: alignedFrom, to: alignedTo === alignedFrom ? alignedFrom + intervalMs : alignedTo, intervalMs };
}

/**
 * Event counts and bytes per bucket. Topic patterns narrow the rollups by prefix; where a prefix admits more topics
 * than the pattern, rows are read per topic, checked against the patterns here, and summed again.
 */
export async function eventStats(store: Store, input: EventStatsInput, now: number): Promise<EventStatsBucket[]> {
  const range = statsRange(input, now);
  const asked = input.groupBy;
  if (asked !== undefined && asked !== "topic" && asked !== "type") {
    throw new HubError("SB_QUERY_INVALID", `group_by must be topic or type, got ${JSON.stringify(asked)}`);
  }
  const groupBy: Array<"topic" | "type"> = asked === undefined ? [] : [asked];
  const query: EventStatsQuery = { ...range, groupBy };
  if (input.type !== undefined) query.type = input.type;
  const matchers = topicTerms(input.topics ?? [], query);
  if (matchers.length === 0) return store.rollups.eventStats(query);
  const rows = await store.rollups.eventStats({ ...query, groupBy: [...new Set([...groupBy, "topic" as const])] });
  return regroup(
    rows.filter((r) => matchers.some((m) => m.matches(r.topic!))),
    groupBy,
  );
}

/** Delivery attempts per bucket, of one subscription or all. */
export async function deliveryStats(store: Store, input: StatsInput & { subscriptionId?: string }, now: number): Promise<DeliveryStatsBucket[]> {
  const query = { ...statsRange(input, now), ...(input.subscriptionId !== undefined && { subscriptionId: input.subscriptionId }) };
  return store.rollups.deliveryStats(query);
}

/** Sets the store's topic terms on `query`; returns the matchers rows must pass when the terms admit more. */
function topicTerms(topics: string[], query: EventStatsQuery): TopicMatcher[] {
  if (topics.length > 50) throw new HubError("SB_QUERY_INVALID", "at most 50 topics per request");
  const matchers: TopicMatcher[] = [];
  for (const t of topics) {
    const problem = topicPatternProblem(t);
    if (problem) throw new HubError("SB_QUERY_INVALID", `topic: ${problem}`);
    const m = compileTopicPattern(t);
    matchers.push(m);
    if (m.exact) (query.topics ??= []).push(t);
    else (query.topicPrefixes ??= []).push(m.prefix);
  }
  if (!matchers.some((m) => !m.exact)) return []; // exact names only: the store's terms are exact
  if (query.topicPrefixes!.includes("")) {
    // A leading wildcard: the store cannot narrow by topic; the matchers decide.
    delete query.topics;
    delete query.topicPrefixes;
  }
  return matchers;
}

/** Sums rows read per topic back to the groups asked for, in (time, group) order. */
function regroup(rows: EventStatsBucket[], groupBy: ReadonlyArray<"topic" | "type">): EventStatsBucket[] {
  const out = new Map<string, EventStatsBucket>();
  for (const r of rows) {
    const bucket: EventStatsBucket = { t: r.t, count: 0, bytes: 0 };
    if (groupBy.includes("topic")) bucket.topic = r.topic!;
    if (groupBy.includes("type")) bucket.type = r.type!;
    const key = `${r.t}\u0000${bucket.topic ?? ""}\u0000${bucket.type ?? ""}`;
    const b = out.get(key) ?? (out.set(key, bucket), bucket);
    b.count += r.count;
    b.bytes += r.bytes;
  }
  const group = (b: EventStatsBucket) => b.topic ?? b.type ?? "";
  return [...out.values()].sort((a, b) => a.t - b.t || (group(a) < group(b) ? -1 : group(a) > group(b) ? 1 : 0));
}
