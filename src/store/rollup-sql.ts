/**
 * The rollup statements of both dialects (see `rollups.ts`): each passes how it writes the n-th parameter (`?` in
 * SQLite, `$n` in PostgreSQL) and how a bigint parameter is typed.
 */
import type { BuiltSql, Placeholder } from "./delivery-sql.js";
import { prefixUpperBound } from "./rows.js";
import {
  DAY_MS,
  HOUR_MS,
  LATENCY_BUCKETS,
  MINUTE_MS,
  ALL_SUBSCRIPTIONS,
  ALL_TOPICS,
  rollupSources,
  type DeliveryStatsBucket,
  type DeliveryStatsQuery,
  type EventStatsBucket,
  type EventStatsQuery,
} from "./rollups.js";

/**
 * How a dialect writes parameters: the placeholder, and an integer one (bucket arithmetic must divide integers:
 * better-sqlite3 binds a JavaScript number as a real, and PostgreSQL must know the type).
 */
export interface RollupDialect {
  ph: Placeholder;
  int: (placeholder: string) => string;
}

function builder({ ph, int }: RollupDialect): { params: unknown[]; p: (value: unknown) => string; n: (value: number) => string } {
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return ph(params.length);
  };
  return { params, p, n: (value) => int(p(value)) };
}

const HISTOGRAM = Array.from({ length: 10 }, (_, i) => `h${i}`);

/** Adds a batch of event minutes: parameters res, t, topic, type, count, bytes (one row; SQLite runs it per row). */
export const UPSERT_EVENT_ROLLUP_SET = `ON CONFLICT (res, t, topic, type) DO UPDATE SET count = event_rollups.count + excluded.count,
         bytes = event_rollups.bytes + excluded.bytes`;

/** Adds a batch's delivery minutes; the values come from the dialect's statement. */
export const UPSERT_DELIVERY_ROLLUP_SET = `ON CONFLICT (res, subscription_id, t) DO UPDATE SET delivered = delivery_rollups.delivered + excluded.delivered,
         failed = delivery_rollups.failed + excluded.failed, dead = delivery_rollups.dead + excluded.dead,
         latency_sum = delivery_rollups.latency_sum + excluded.latency_sum,
         ${HISTOGRAM.map((h) => `${h} = delivery_rollups.${h} + excluded.${h}`).join(", ")}`;

/** The histogram columns, comma-separated. */
export const HISTOGRAM_COLUMNS = HISTOGRAM.join(", ");

/**
 * A stats query over the sources of [from, to) (see `rollupSources`): one grouped SELECT per source, each reading one
 * resolution's range. Where a source's resolution is the interval, its bucket is `t` itself, so the group streams in
 * key order instead of going through a sort; where, besides, `where` leaves one row per time (`unique`) and that source
 * is the only one, each row is a bucket and is read as it is, without aggregates (a day of minutes of one
 * subscription: 1,440 rows of 15 columns, whose sums cost more than the read). Several sources are summed again by bucket (a bucket may take rows from two of
 * them); `sums` are the per-source aggregates, `outer` the same columns summed again.
 */
function statsSql(
  b: ReturnType<typeof builder>,
  q: { from: number; to: number; intervalMs: number },
  marks: ReadonlyMap<number, number>,
  table: string,
  groups: readonly string[],
  columns: readonly string[],
  where: (b: ReturnType<typeof builder>) => string[],
  unique = false,
): string {
  const sources = rollupSources(q.from, q.to, q.intervalMs, marks);
  const groupList = ["b", ...groups].join(", ");
  const sums = columns.map((c) => `sum(${c}) AS ${c}`).join(", ");
  const selects = sources.map((s) => {
    // Parameters in the order of the text (SQLite's are positional): the bucket's, then the terms'.
    const bucket = s.res === q.intervalMs ? "t" : `(t / ${b.n(q.intervalMs)}) * ${b.n(q.intervalMs)}`;
    const terms = [`res = ${b.n(s.res)}`, `t >= ${b.n(s.from)}`, `t < ${b.n(s.to)}`, ...where(b)];
    // Only alone: under a UNION ALL the grouped form lets PostgreSQL merge the sorted parts and sum them streaming;
    // plain rows there made it hash and sort them (about 3x slower over 30 days of hours).
    if (unique && s.res === q.intervalMs && sources.length === 1) return `SELECT t AS b, ${columns.join(", ")} FROM ${table} WHERE ${terms.join(" AND ")}`;
    return `SELECT ${bucket} AS b${groups.map((g) => `, ${g}`).join("")}, ${sums} FROM ${table} WHERE ${terms.join(" AND ")} GROUP BY ${groupList}`;
  });
  if (selects.length === 0) return `SELECT 0 AS b${groups.map((g) => `, '' AS ${g}`).join("")}, ${columns.map((c) => `0 AS ${c}`).join(", ")} WHERE 1 = 0`;
  if (selects.length === 1) return `${selects[0]} ORDER BY ${groupList}`;
  return `SELECT ${groupList}, ${sums} FROM (${selects.join(" UNION ALL ")}) s GROUP BY ${groupList} ORDER BY ${groupList}`;
}

/** Event counts per bucket (and group), in bucket order. */
export function eventStatsSql(q: EventStatsQuery, marks: ReadonlyMap<number, number>, dialect: RollupDialect): BuiltSql {
  const b = builder(dialect);
  // Grouping columns come from a fixed list, never from the request's text.
  const groups = (["topic", "type"] as const).filter((g) => q.groupBy?.includes(g));
  const where = (b: ReturnType<typeof builder>): string[] => {
    const terms: string[] = [];
    const topicTerms: string[] = [];
    if (q.topics?.length) topicTerms.push(`topic IN (${q.topics.map((t) => b.p(t)).join(", ")})`);
    for (const prefix of q.topicPrefixes ?? []) topicTerms.push(`(topic >= ${b.p(prefix)} AND topic < ${b.p(prefixUpperBound(prefix))})`);
    if (topicTerms.length) terms.push(`(${topicTerms.join(" OR ")})`);
    // Every topic: the rows under '', which hold their sum (see ALL_TOPICS), unless grouped by topic. Topic terms never
    // match ''.
    else terms.push(groups.includes("topic") ? `topic <> ${b.p(ALL_TOPICS)}` : `topic = ${b.p(ALL_TOPICS)}`);
    if (q.type !== undefined) terms.push(`type = ${b.p(q.type)}`);
    return terms;
  };
  return { sql: statsSql(b, q, marks, "event_rollups", groups, ["count", "bytes"], where), params: b.params };
}

/** Delivery attempts per bucket, in bucket order. */
export function deliveryStatsSql(q: DeliveryStatsQuery, marks: ReadonlyMap<number, number>, dialect: RollupDialect): BuiltSql {
  const b = builder(dialect);
  // Every subscription: the rows under '', which hold their sum (see ALL_SUBSCRIPTIONS). One subscription has one row
  // per (res, t): the key.
  const where = (b: ReturnType<typeof builder>) => [`subscription_id = ${b.p(q.subscriptionId ?? ALL_SUBSCRIPTIONS)}`];
  const sql = statsSql(b, q, marks, "delivery_rollups", [], DELIVERY_STATS_COLUMNS, where, true);
  return { sql, params: b.params };
}

/** The columns of {@link deliveryStatsSql} after the bucket `b`, in the order of a {@link DeliveryStatsRow}. */
const DELIVERY_STATS_COLUMNS = ["delivered", "failed", "dead", "latency_sum", ...HISTOGRAM];

/**
 * A row of {@link deliveryStatsSql} read as an array (better-sqlite3's `raw`, pg's `rowMode: 'array'`, which spare an
 * object per row): the bucket, delivered, failed, dead, latency_sum, h0..h9. Numbers, or the texts of PostgreSQL's
 * `numeric` sums.
 */
export type DeliveryStatsRow = ReadonlyArray<number | string>;

/**
 * Derives the buckets of `res` in [from, to) from the finer resolution `finer`, replacing what was there (so that
 * running it again changes nothing). Two statements: events, then deliveries.
 */
export function deriveSql(res: number, finer: number, from: number, to: number, dialect: RollupDialect): BuiltSql[] {
  const e = builder(dialect);
  const events = `INSERT INTO event_rollups (res, t, topic, type, count, bytes)
         SELECT ${e.n(res)}, (t / ${e.n(res)}) * ${e.n(res)}, topic, type, sum(count), sum(bytes) FROM event_rollups
         WHERE res = ${e.n(finer)} AND t >= ${e.n(from)} AND t < ${e.n(to)} GROUP BY 2, 3, 4
         ON CONFLICT (res, t, topic, type) DO UPDATE SET count = excluded.count, bytes = excluded.bytes`;
  const d = builder(dialect);
  const deliveries = `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, ${HISTOGRAM_COLUMNS})
         SELECT ${d.n(res)}, (t / ${d.n(res)}) * ${d.n(res)}, subscription_id, sum(delivered), sum(failed), sum(dead), sum(latency_sum),
           ${HISTOGRAM.map((h) => `sum(${h})`).join(", ")}
         FROM delivery_rollups WHERE res = ${d.n(finer)} AND t >= ${d.n(from)} AND t < ${d.n(to)} GROUP BY 2, 3
         ON CONFLICT (res, subscription_id, t) DO UPDATE SET delivered = excluded.delivered, failed = excluded.failed, dead = excluded.dead,
           latency_sum = excluded.latency_sum, ${HISTOGRAM.map((h) => `${h} = excluded.${h}`).join(", ")}`;
  return [
    { sql: events, params: e.params },
    { sql: deliveries, params: d.params },
  ];
}

/** The coarser resolutions and what each is derived from, in the order a roll-up derives them. */
export const DERIVED = [
  { res: HOUR_MS, finer: MINUTE_MS },
  { res: DAY_MS, finer: HOUR_MS },
] as const;

/**
 * The range [from, to) of `res` buckets a roll-up derives: from the resolution's mark (or, with none yet, the start of
 * the oldest finer bucket) to the last bucket that closed before `finerMark`, the time up to which the finer
 * resolution is complete. Undefined when there is nothing to derive.
 */
export function rollUpRange(
  res: number,
  finerMark: number,
  mark: number | undefined,
  oldestFiner: number | undefined,
): { from: number; to: number } | undefined {
  const to = Math.floor(finerMark / res) * res;
  const from = mark ?? (oldestFiner === undefined ? to : Math.floor(oldestFiner / res) * res);
  return to > from ? { from, to } : undefined;
}

/** A row of delivery stats as a bucket. */
export function toDeliveryBucket(r: DeliveryStatsRow): DeliveryStatsBucket {
  const latencyCounts = new Array<number>(LATENCY_BUCKETS);
  for (let i = 0; i < LATENCY_BUCKETS; i++) latencyCounts[i] = Number(r[5 + i]);
  return { t: Number(r[0]), delivered: Number(r[1]), failed: Number(r[2]), dead: Number(r[3]), latencySumMs: Number(r[4]), latencyCounts };
}

/** A row of event stats as a bucket. */
export function toEventBucket(r: { b: number | string; topic?: string; type?: string; count: number | string; bytes: number | string }): EventStatsBucket {
  const bucket: EventStatsBucket = { t: Number(r.b), count: Number(r.count), bytes: Number(r.bytes) };
  if (r.topic !== undefined) bucket.topic = r.topic;
  if (r.type !== undefined) bucket.type = r.type;
  return bucket;
}
