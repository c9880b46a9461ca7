/** The database's side of an aggregation (see `aggregate-events.ts`): one statement, its rows shaped as the hub's. */
import type { EventAggregateQuery, EventAggregateRow, EventQuery, Store } from "../store/store.js";
import { compareGroups, type AggregateBucket, type AggregateResult, type GroupBy, type Metric } from "./aggregate-spec.js";

/** Runs the aggregation in SQL: `query` holds the topic, type and time terms of the search it replaces. */
export async function aggregateInSql(
  store: Store,
  query: Omit<EventQuery, "limit" | "after" | "order"> & { fromTime: number; toTime: number; intervalMs: number | undefined },
  metrics: Metric[],
  group: GroupBy | undefined,
): Promise<AggregateResult> {
  const fields = [...new Set(metrics.flatMap((m) => (m.op === "count" ? [] : [m.field])))];
  const pathOf = new Map(metrics.flatMap((m) => (m.op === "count" ? [] : [[m.field, m.path] as const])));
  const percentiles = metrics.flatMap((m) => (m.percentile === undefined ? [] : [{ field: fields.indexOf(m.field), p: m.percentile / 100 }]));
  const q: EventAggregateQuery = {
    fromTime: query.fromTime,
    toTime: query.toTime,
    fields: fields.map((f) => pathOf.get(f)!),
    ...(query.intervalMs !== undefined && { intervalMs: query.intervalMs }),
    ...(query.topics && { topics: query.topics }),
    ...(query.topicPrefixes && { topicPrefixes: query.topicPrefixes }),
    ...(query.type !== undefined && { type: query.type }),
    ...(group && { groupBy: "envelope" in group ? { envelope: group.envelope } : { path: group.path } }),
    ...(percentiles.length > 0 && { percentiles }),
  };
  const rows = await store.events.aggregate(q);
  const skipped: Record<string, number> = {};
  let scanned = 0;
  for (const r of rows) {
    scanned += r.count;
    fields.forEach((f, i) => {
      const missing = r.count - r.fields[i]!.n;
      if (missing > 0) skipped[f] = (skipped[f] ?? 0) + missing;
    });
  }
  const buckets = rows
    .sort((a, b) => a.t - b.t || compareGroups(a.group, b.group))
    .map((r): AggregateBucket => {
      const values = Object.fromEntries(metrics.map((m) => [m.name, metricOf(m, r, fields, percentiles.length > 0 ? metrics : [])]));
      return group ? { t: r.t, group: r.group, values } : { t: r.t, values };
    });
  return { buckets, skipped, scanned, ranIn: "database" };
}

/** A metric's value from a row; null when the bucket had no number in the field. */
function metricOf(m: Metric, r: EventAggregateRow, fields: string[], withPercentiles: Metric[]): number | null {
  if (m.op === "count") return r.count;
  const f = r.fields[fields.indexOf(m.field)]!;
  if (f.n === 0) return null;
  if (m.op === "sum") return f.sum;
  if (m.op === "avg") return f.sum! / f.n;
  if (m.op === "min") return f.min;
  if (m.op === "max") return f.max;
  return r.percentiles[withPercentiles.filter((x) => x.percentile !== undefined).indexOf(m)] ?? null;
}
