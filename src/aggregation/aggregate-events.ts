/**
 * Ad-hoc aggregation over the events' data (`GET /api/events/aggregate`): exact counts, sums, averages, extremes and
 * percentiles per time bucket and group. The events are read from the store page by page and aggregated here, within
 * a row and a time budget (see docs/aggregation.md for the cost).
 */
import { HubError } from "../errors.js";
import { parseEventSearch, type EventSearchInput } from "../query/search-events.js";
import type { CompileFilterOptions } from "../routing/filter.js";
import type { EventCursor, Store } from "../store/store.js";
import { Accumulator, parseGroupBy, parseMetrics, type AggregateResult, type Metric } from "./aggregate-spec.js";
import { aggregateInSql } from "./aggregate-sql-path.js";
import { STATS_INTERVALS } from "./stats.js";

/** Most events one aggregation reads. */
export const AGGREGATE_ROW_BUDGET = 200_000;
/** Longest one aggregation may read for, in ms. */
export const AGGREGATE_TIME_BUDGET_MS = 5_000;
/** Events read per page. */
const PAGE = 2_000;

/** An aggregation in domain terms; times are epoch ms of the events' `time`. */
export interface AggregateInput {
  topics?: string[];
  type?: string;
  from?: number;
  to?: number;
  filter?: string;
  groupBy?: string;
  /** A name of {@link STATS_INTERVALS}; none: one bucket for the whole range. */
  interval?: string;
  metrics?: string;
}

/** The budgets of one aggregation (the defaults unless a test narrows them) and the clock that times it. */
export interface AggregateOptions extends CompileFilterOptions {
  rowBudget?: number;
  timeBudgetMs?: number;
  clock?: () => number;
}

/**
 * Runs an aggregation. Without `from` the last day is read, `to` defaults to now.
 * @throws HubError SB_QUERY_INVALID (naming the parameter), SB_AGGREGATE_TOO_COSTLY past a budget.
 */
export async function aggregateEvents(store: Store, input: AggregateInput, now: number, options: AggregateOptions = {}): Promise<AggregateResult> {
  const { rowBudget = AGGREGATE_ROW_BUDGET, timeBudgetMs = AGGREGATE_TIME_BUDGET_MS, clock = Date.now } = options;
  const metrics = parseMetrics(input.metrics);
  const group = parseGroupBy(input.groupBy);
  const intervalMs = input.interval === undefined ? undefined : STATS_INTERVALS[input.interval];
  if (input.interval !== undefined && intervalMs === undefined) {
    throw new HubError("SB_QUERY_INVALID", `interval must be one of ${Object.keys(STATS_INTERVALS).join(", ")}, got ${JSON.stringify(input.interval)}`);
  }
  const to = input.to ?? now;
  const from = input.from ?? to - 86_400_000;
  const searchInput: EventSearchInput = { topics: input.topics ?? [], fromTime: from, toTime: to, limit: 1 };
  if (input.type !== undefined) searchInput.type = input.type;
  if (input.filter !== undefined) searchInput.filter = input.filter;
  const search = parseEventSearch(searchInput, options);
  if (canPushDown(store, input, metrics)) return aggregateInSql(store, { ...search.query, fromTime: from, toTime: to, intervalMs }, metrics, group);
  const bucketOf = intervalMs === undefined ? () => from : (time: number) => Math.floor(time / intervalMs) * intervalMs;
  const acc = new Accumulator(metrics, group, bucketOf);
  const started = clock();
  let after: EventCursor | undefined;
  let scanned = 0;
  for (;;) {
    const rows = await store.events.search({ ...search.query, ...(after && { after }), limit: PAGE });
    scanned += rows.length;
    if (scanned > rowBudget || clock() - started > timeBudgetMs) throw tooCostly(scanned > rowBudget, rowBudget, timeBudgetMs);
    for (const e of rows) {
      if (search.matchers.length > 0 && !search.matchers.some((m) => m.matches(e.topic))) continue;
      if (search.filter && !search.filter.matches(e)) continue;
      acc.add(e);
    }
    if (rows.length < PAGE) return acc.result(scanned);
    const last = rows.at(-1)!;
    after = { time: last.time, seq: last.seq };
  }
}

function tooCostly(rows: boolean, rowBudget: number, timeBudgetMs: number): HubError {
  const which = rows ? `more than ${rowBudget} events (its row budget)` : `events for more than ${timeBudgetMs} ms (its time budget)`;
  return new HubError(
    "SB_AGGREGATE_TOO_COSTLY",
    `the aggregation read ${which}; budgets: ${rowBudget} events, ${timeBudgetMs} ms. Narrow the topics or the time range`,
  );
}

/**
 * Whether the database can do the whole aggregation: no CEL filter, topics it selects exactly (names, and patterns
 * `prefix.**`, which its prefix terms match exactly), and percentiles only where it has them.
 */
function canPushDown(store: Store, input: AggregateInput, metrics: Metric[]): boolean {
  if (input.filter !== undefined && input.filter !== "") return false;
  if (!(input.topics ?? []).every((t) => !/[*]/.test(t) || (/^[^*]+\.\*\*$/.test(t) && t.length > 3))) return false;
  return store.events.aggregatesPercentiles || metrics.every((m) => m.percentile === undefined);
}
