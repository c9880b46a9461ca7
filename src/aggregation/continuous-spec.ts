/**
 * A continuous aggregate's definition: parsed from the request (each mistake a 400 naming its field), compiled into
 * what the store runs on each committed event, and its stored cells read back as buckets of `/events/aggregate`.
 */
import { HubError } from "../errors.js";
import { compileFilter, type CompileFilterOptions } from "../routing/filter.js";
import { compileTopicPattern, topicPatternProblem } from "../routing/topic-pattern.js";
import type { AggregateCell, CompiledAggregate, StoredAggregate } from "../store/store.js";
import { compareGroups, groupKey, parseGroupBy, parseMetrics, valueAt, type AggregateBucket, type Metric } from "./aggregate-spec.js";
import { STATS_INTERVALS } from "./stats.js";

/** A definition as stored (the `spec` of {@link StoredAggregate}) and given back. */
export interface ContinuousAggregateSpec {
  topic: string;
  filter?: string;
  groupBy?: string;
  metrics: string[];
  /** A name of {@link STATS_INTERVALS}. */
  interval: string;
  /** Publish each closed bucket as an event on `switchboard.aggregate.<name>`. */
  publish?: boolean;
}

/** An aggregate's name: it may become part of a topic name (`switchboard.aggregate.<name>`). */
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function invalid(details: string): HubError {
  return new HubError("SB_AGGREGATE_INVALID", details);
}

/** Rethrows a query error of the shared parsers as this route's. */
function asDefinitionError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof HubError && error.code === "SB_QUERY_INVALID") throw invalid(error.details);
    throw error;
  }
}

/**
 * Checks a definition and returns it normalised. @throws HubError SB_AGGREGATE_INVALID naming the field;
 * SB_FILTER_INVALID or SB_FILTER_TOO_COSTLY for the filter.
 */
export function parseContinuousAggregate(
  input: { name: string; topic: string; filter?: string; group_by?: string; metrics: string | string[]; interval: string; publish?: boolean },
  options: CompileFilterOptions = {},
): { name: string; spec: ContinuousAggregateSpec } {
  if (!NAME.test(input.name)) throw invalid(`name: ${JSON.stringify(input.name)} must be 1 to 64 lowercase letters, digits, '_' or '-'`);
  const topicProblem = topicPatternProblem(input.topic);
  if (topicProblem !== undefined) throw invalid(`topic: ${topicProblem}`);
  if (STATS_INTERVALS[input.interval] === undefined) {
    throw invalid(`interval must be one of ${Object.keys(STATS_INTERVALS).join(", ")}, got ${JSON.stringify(input.interval)}`);
  }
  const list = typeof input.metrics === "string" ? input.metrics : input.metrics.join(",");
  const metrics = asDefinitionError(() => parseMetrics(list));
  const percentile = metrics.find((m) => m.percentile !== undefined);
  if (percentile) {
    throw invalid(
      `metrics: ${JSON.stringify(percentile.name)} is a percentile, which a continuous aggregate cannot keep incrementally; ` +
        `use count, sum, avg, min or max, or GET /events/aggregate for percentiles`,
    );
  }
  if (input.group_by !== undefined) asDefinitionError(() => parseGroupBy(input.group_by));
  if (input.filter !== undefined) compileFilter(input.filter, options);
  const spec: ContinuousAggregateSpec = { topic: input.topic, metrics: metrics.map((m) => m.name), interval: input.interval };
  if (input.filter !== undefined) spec.filter = input.filter;
  if (input.group_by !== undefined && input.group_by !== "") spec.groupBy = input.group_by;
  if (input.publish === true) spec.publish = true;
  return { name: input.name, spec };
}

/** The spec of a stored aggregate. */
export function specOf(aggregate: StoredAggregate): ContinuousAggregateSpec {
  return aggregate.spec as ContinuousAggregateSpec;
}

/**
 * Compiles a stored definition into what the store runs on each event: its topic and filter, its bucket (by the
 * event's `time`), its group ('' when none or missing) and the numbers of its metric fields. `range` limits it to
 * events whose time is in [from, to) (a backfill's range).
 */
export function compileContinuousAggregate(
  aggregate: StoredAggregate,
  options: CompileFilterOptions = {},
  range: { from?: number | null; to?: number | null } = {},
): CompiledAggregate {
  const spec = specOf(aggregate);
  const topic = compileTopicPattern(spec.topic);
  const filter = spec.filter === undefined ? undefined : compileFilter(spec.filter, options);
  const group = parseGroupBy(spec.groupBy);
  const intervalMs = STATS_INTERVALS[spec.interval]!;
  const fields = [...new Map(parseMetrics(spec.metrics.join(",")).flatMap((m) => (m.op === "count" ? [] : [[m.field, m.path] as const])))];
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  return (e) => {
    if (!topic.matches(e.topic) || e.time < from || e.time >= to) return undefined;
    if (filter && !filter.matches(e)) return undefined;
    const values: Array<readonly [string, number]> = [];
    for (const [field, path] of fields) {
      const v = valueAt(e.data, path);
      if (typeof v === "number" && Number.isFinite(v)) values.push([field, v]);
    }
    return { t: Math.floor(e.time / intervalMs) * intervalMs, group: group ? (groupKey(group, e) ?? "") : "", values };
  };
}

/** The stored cells as buckets, each with every metric of the definition (avg = sum / count of numbers). */
export function bucketsOf(aggregate: StoredAggregate, cells: readonly AggregateCell[]): AggregateBucket[] {
  const spec = specOf(aggregate);
  const metrics = parseMetrics(spec.metrics.join(","));
  const grouped = spec.groupBy !== undefined;
  const byKey = new Map<string, { t: number; group: string; fields: Map<string, AggregateCell> }>();
  for (const c of cells) {
    const key = `${c.t}\u0000${c.group}`;
    let b = byKey.get(key);
    if (!b) byKey.set(key, (b = { t: c.t, group: c.group, fields: new Map() }));
    b.fields.set(c.field, c);
  }
  return [...byKey.values()]
    .map((b) => ({ t: b.t, group: b.group === "" ? null : b.group, fields: b.fields }))
    .sort((a, b) => a.t - b.t || compareGroups(a.group, b.group))
    .map((b): AggregateBucket => {
      const values = Object.fromEntries(metrics.map((m) => [m.name, valueOf(m, b.fields)]));
      return grouped ? { t: b.t, group: b.group, values } : { t: b.t, values };
    });
}

function valueOf(m: Metric, fields: Map<string, AggregateCell>): number | null {
  if (m.op === "count") return fields.get("")?.n ?? 0;
  const c = fields.get(m.field);
  if (!c || c.n === 0) return null;
  if (m.op === "sum") return c.sum;
  if (m.op === "avg") return c.sum / c.n;
  if (m.op === "min") return c.min;
  return c.max;
}
