/**
 * Aggregation over the events' data pushed down to SQL (see `src/aggregation/aggregate-events.ts`): per bucket and
 * group, the count, and per numeric field how many events had a number there, their sum, min and max (the caller
 * derives averages and skipped counts); on PostgreSQL also nearest-rank percentiles (`percentile_disc`).
 */
import { prefixUpperBound } from "./rows.js";

/** What an aggregation pushed down reads and computes. */
export interface EventAggregateQuery {
  topics?: string[];
  topicPrefixes?: string[];
  type?: string;
  /** Inclusive lower and exclusive upper bound of `time`, epoch ms. */
  fromTime: number;
  toTime: number;
  /** Bucket width in ms on `time`; none: one bucket, `t` = `fromTime`. */
  intervalMs?: number;
  groupBy?: { envelope: "topic" | "type" | "source" | "subject" } | { path: string[] };
  /** Paths below `data` of the numeric fields. */
  fields: string[][];
  /** PostgreSQL only: nearest-rank percentiles of a field (its index in `fields`), `p` in (0, 1]. */
  percentiles?: Array<{ field: number; p: number }>;
}

/** One bucket and group: `group` is the value as JSON text (null when missing). */
export interface EventAggregateRow {
  t: number;
  group: string | null;
  count: number;
  fields: Array<{ n: number; sum: number | null; min: number | null; max: number | null }>;
  percentiles: Array<number | null>;
}

/** How a dialect writes the pieces that differ. */
interface AggregateDialect {
  ph(n: number): string;
  int(placeholder: string): string;
  /** A bound JSON path parameter's value for `path`. */
  pathValue(path: string[]): unknown;
  /** The number at a path, or NULL when missing or not a number; `path()` writes a new placeholder of the path. */
  number(path: () => string): string;
  /** The value at a path as JSON text, NULL when missing. */
  jsonText(path: () => string): string;
  /** An envelope column as JSON text, NULL when null. */
  columnJson(column: string): string;
  /** The rows read: a FROM clause over events with `where`. */
  from(where: string): string;
}

export const SQLITE_AGGREGATE: AggregateDialect = {
  ph: () => "?",
  int: (p) => `CAST(${p} AS INTEGER)`,
  pathValue: (path) => `$${path.map((s) => `."${s}"`).join("")}`,
  number: (p) => `(CASE WHEN json_type(data, ${p()}) IN ('integer', 'real') THEN json_extract(data, ${p()}) END)`,
  jsonText: (p) => `(data -> ${p()})`,
  columnJson: (c) => `(CASE WHEN ${c} IS NULL THEN NULL ELSE json_quote(${c}) END)`,
  from: (where) => `events WHERE ${where}`,
};

export const POSTGRES_AGGREGATE: AggregateDialect = {
  ph: (n) => `$${n}`,
  int: (p) => `${p}::bigint`,
  pathValue: (path) => path,
  number: (p) => `(CASE WHEN jsonb_typeof(j #> ${p()}::text[]) = 'number' THEN (j #>> ${p()}::text[])::float8 END)`,
  jsonText: (p) => `((j #> ${p()}::text[])::text)`,
  columnJson: (c) => `(to_json(${c})::text)`,
  // The data is text: parsed once per row here, not once per expression.
  from: (where) => `(SELECT time, topic, type, source, subject, data::jsonb AS j FROM events WHERE ${where}) e`,
};

/** The statement of an aggregation and its parameters; rows come out in (t, group) order. */
export function eventAggregateSql(q: EventAggregateQuery, d: AggregateDialect): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return d.ph(params.length);
  };
  // Parameters are numbered in the order they are written: the SELECT list first, then the WHERE clause.
  const bucket = q.intervalMs === undefined ? d.int(p(q.fromTime)) : `(time / ${d.int(p(q.intervalMs))}) * ${d.int(p(q.intervalMs))}`;
  const pathOf = (path: string[]) => () => p(d.pathValue(path));
  const groupBy = q.groupBy;
  const group = groupBy === undefined ? "NULL" : "envelope" in groupBy ? d.columnJson(groupBy.envelope) : d.jsonText(pathOf(groupBy.path));
  const select = [`${bucket} AS t`, `${group} AS g`, "count(*) AS count"];
  q.fields.forEach((path, i) => {
    for (const op of ["count", "sum", "min", "max"]) select.push(`${op}(${d.number(pathOf(path))}) AS ${op === "count" ? "n" : op}${i}`);
  });
  (q.percentiles ?? []).forEach(({ field, p: fraction }, i) => {
    select.push(`percentile_disc(${p(fraction)}::float8) WITHIN GROUP (ORDER BY ${d.number(pathOf(q.fields[field]!))}) AS p${i}`);
  });
  const where = [`time >= ${p(q.fromTime)}`, `time < ${p(q.toTime)}`];
  const topicTerms: string[] = [];
  if (q.topics?.length) topicTerms.push(`topic IN (${q.topics.map((t) => p(t)).join(", ")})`);
  for (const prefix of q.topicPrefixes ?? []) topicTerms.push(`(topic >= ${p(prefix)} AND topic < ${p(prefixUpperBound(prefix))})`);
  if (topicTerms.length) where.push(`(${topicTerms.join(" OR ")})`);
  if (q.type !== undefined) where.push(`type = ${p(q.type)}`);
  const sql = `SELECT ${select.join(", ")} FROM ${d.from(where.join(" AND "))} GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST`;
  return { sql, params };
}

/** A row of {@link eventAggregateSql} in domain terms (PostgreSQL sends sums and counts as text). */
export function toAggregateRow(r: Record<string, unknown>, q: EventAggregateQuery): EventAggregateRow {
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    t: Number(r.t),
    group: (r.g as string | null) ?? null,
    count: Number(r.count),
    fields: q.fields.map((_, i) => ({ n: Number(r[`n${i}`]), sum: num(r[`sum${i}`]), min: num(r[`min${i}`]), max: num(r[`max${i}`]) })),
    percentiles: (q.percentiles ?? []).map((_, i) => num(r[`p${i}`])),
  };
}
