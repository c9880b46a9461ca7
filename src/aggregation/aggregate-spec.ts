/**
 * What an aggregation computes: its metrics (`count`, `sum:data.amount`, `p95:data.latency_ms`…), its grouping and its
 * buckets, parsed from the request, and the accumulator that computes them exactly over events read one by one.
 */
import { HubError } from "../errors.js";
import type { StoredEvent } from "../store/store.js";

/** An operation on a numeric field of the data. */
export type MetricOp = "sum" | "avg" | "min" | "max" | `p${number}`;

/** One metric: `count`, or an operation on a data field (its path below `data`). */
export type Metric =
  | { name: "count"; op: "count"; field?: undefined; path?: undefined; percentile?: undefined }
  | { name: string; op: MetricOp; field: string; path: string[]; percentile?: number };

/** What to group by: an envelope field or a data field (its path below `data`). */
export type GroupBy = { name: string; envelope: "topic" | "type" | "source" | "subject" } | { name: string; path: string[] };

/** Most metrics per request. */
export const MAX_METRICS = 10;
const SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** `data.a.b` → `["a", "b"]`. @throws HubError SB_QUERY_INVALID naming `param` */
export function dataPath(param: string, field: string): string[] {
  const segments = field.split(".");
  if (segments[0] !== "data" || segments.length < 2 || segments.length > 9 || !segments.slice(1).every((s) => SEGMENT.test(s))) {
    throw new HubError(
      "SB_QUERY_INVALID",
      `${param}: ${JSON.stringify(field)} is not a data field; write data.<name>[.<name>…] with names of letters, digits, '_' or '-'`,
    );
  }
  return segments.slice(1);
}

/** Parses `metrics=count,sum:data.amount,p95:data.latency_ms`; `count` when absent. */
export function parseMetrics(param: string | undefined): Metric[] {
  const names = (param ?? "count")
    .split(",")
    .map((m) => m.trim())
    .filter((m) => m !== "");
  if (names.length === 0 || names.length > MAX_METRICS) throw new HubError("SB_QUERY_INVALID", `metrics: give 1 to ${MAX_METRICS} metrics`);
  return [...new Set(names)].map((name): Metric => {
    if (name === "count") return { name, op: "count" };
    const [op, field, ...rest] = name.split(":");
    if (field === undefined || rest.length > 0) throw new HubError("SB_QUERY_INVALID", `metrics: ${JSON.stringify(name)} is not count or <op>:data.<field>`);
    const path = dataPath("metrics", field);
    if (op === "sum" || op === "avg" || op === "min" || op === "max") return { name, op, field, path };
    const p = /^p(\d{1,2}(?:\.\d{1,3})?)$/.exec(op ?? "");
    if (p && Number(p[1]) > 0) return { name, op: op as MetricOp, field, path, percentile: Number(p[1]) };
    throw new HubError(
      "SB_QUERY_INVALID",
      `metrics: unknown operation ${JSON.stringify(op)} in ${JSON.stringify(name)}; use count, sum, avg, min, max or p1–p99`,
    );
  });
}

/** Parses `group_by=data.action` (or topic, type, source, subject). */
export function parseGroupBy(param: string | undefined): GroupBy | undefined {
  if (param === undefined || param === "") return undefined;
  if (param === "topic" || param === "type" || param === "source" || param === "subject") return { name: param, envelope: param };
  return { name: param, path: dataPath("group_by", param) };
}

/** The value at `path` in the data, or undefined when missing. */
export function valueAt(data: unknown, path: readonly string[]): unknown {
  let v = data;
  for (const key of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A group's key as JSON text (so `1` and `"1"` stay apart), null when the field is missing. */
export function groupKey(group: GroupBy, e: StoredEvent): string | null {
  const v = "envelope" in group ? e[group.envelope] : valueAt(e.data, group.path);
  return v === undefined || v === null ? null : JSON.stringify(v);
}

/** One bucket and group being accumulated. */
interface Cell {
  t: number;
  group: string | null;
  count: number;
  /** Per metric field (by field name): the numeric values' count, sum, min, max, and the values when a percentile needs them. */
  fields: Map<string, { n: number; sum: number; min: number; max: number; values?: number[] }>;
}

/** An aggregated bucket, before it goes on the wire. */
export interface AggregateBucket {
  t: number;
  /** The group's value as JSON text, null when missing; absent without group_by. */
  group?: string | null;
  values: Record<string, number | null>;
}

/** The result of an aggregation. */
export interface AggregateResult {
  buckets: AggregateBucket[];
  /** Per field, the events it was missing from or not a number in (those are left out of its metrics). */
  skipped: Record<string, number>;
  /** Events read; where the work ran ("database" or "hub"). */
  scanned: number;
  ranIn: "database" | "hub";
}

/** Accumulates events one by one into buckets and groups: exact, holding every value only for percentiles. */
export class Accumulator {
  private readonly cells = new Map<string, Cell>();
  private readonly skipped = new Map<string, number>();
  private readonly fields: Array<{ field: string; path: string[]; keep: boolean }>;

  constructor(
    private readonly metrics: Metric[],
    private readonly group: GroupBy | undefined,
    private readonly bucketOf: (time: number) => number,
  ) {
    const byField = new Map<string, { field: string; path: string[]; keep: boolean }>();
    for (const m of metrics) {
      if (m.op === "count") continue;
      const f = byField.get(m.field) ?? { field: m.field, path: m.path, keep: false };
      f.keep ||= m.percentile !== undefined;
      byField.set(m.field, f);
    }
    this.fields = [...byField.values()];
  }

  add(e: StoredEvent): void {
    const t = this.bucketOf(e.time);
    const group = this.group ? groupKey(this.group, e) : null;
    const key = `${t}\u0000${group}`;
    let cell = this.cells.get(key);
    if (!cell) {
      cell = { t, group, count: 0, fields: new Map() };
      this.cells.set(key, cell);
    }
    cell.count++;
    for (const f of this.fields) {
      const v = valueAt(e.data, f.path);
      if (typeof v !== "number" || !Number.isFinite(v)) {
        this.skipped.set(f.field, (this.skipped.get(f.field) ?? 0) + 1);
        continue;
      }
      const s = cell.fields.get(f.field);
      if (!s) cell.fields.set(f.field, { n: 1, sum: v, min: v, max: v, ...(f.keep && { values: [v] }) });
      else {
        s.n++;
        s.sum += v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        s.values?.push(v);
      }
    }
  }

  result(scanned: number): AggregateResult {
    const buckets = [...this.cells.values()]
      .sort((a, b) => a.t - b.t || compareGroups(a.group, b.group))
      .map((c): AggregateBucket => {
        const values: Record<string, number | null> = {};
        for (const m of this.metrics) values[m.name] = m.op === "count" ? c.count : metricValue(m, c.fields.get(m.field));
        return this.group ? { t: c.t, group: c.group, values } : { t: c.t, values };
      });
    return { buckets, skipped: Object.fromEntries(this.skipped), scanned, ranIn: "hub" };
  }
}

/** Groups in order: missing first, then by their JSON text. */
export function compareGroups(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** A metric over a field's numbers; null when the bucket had none. Percentiles are nearest-rank (a value of the data). */
function metricValue(m: Metric, s: { n: number; sum: number; min: number; max: number; values?: number[] } | undefined): number | null {
  if (!s || s.n === 0 || m.op === "count") return null;
  if (m.op === "sum") return s.sum;
  if (m.op === "avg") return s.sum / s.n;
  if (m.op === "min") return s.min;
  if (m.op === "max") return s.max;
  const sorted = s.values!.slice().sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil((m.percentile! / 100) * sorted.length) - 1)]!;
}
