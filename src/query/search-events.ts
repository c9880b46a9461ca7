import { HubError } from "../errors.js";
import { compileFilter, type CompileFilterOptions, type EventFilter } from "../routing/filter.js";
import { compileTopicPattern, topicPatternProblem, type TopicMatcher } from "../routing/topic-pattern.js";
import type { EventCursor, EventQuery, Store, StoredEvent } from "../store/store.js";

/** Query parameters with a meaning of their own; any other parameter is equality on a top-level data field. */
export const RESERVED_PARAMS = new Set(["topic", "type", "key", "from", "to", "limit", "cursor", "order", "filter", "format"]);

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Most rows one search reads when a CEL filter or topic pattern discards rows, so a request's cost is bounded. */
export const MAX_SCANNED_ROWS = 10_000;

/** A validated search. */
export interface EventSearch {
  query: Omit<EventQuery, "limit" | "after">;
  limit: number;
  after?: EventCursor;
  /** Checks the store cannot do with an index: topic patterns and the CEL filter. */
  matchers: TopicMatcher[];
  filter?: EventFilter;
  /** The topic names and patterns asked for, as given; empty means every topic. */
  topicPatterns: string[];
}

/** One page of results. */
export interface EventPage {
  events: StoredEvent[];
  /** Pass as `cursor` to get the next page; null when there is none. */
  nextCursor: string | null;
}

/** A search in domain terms (the API's query string is mapped in `api/wire/events.ts`). */
export interface EventSearchInput {
  /** Topic names and patterns (at most 50); empty or absent for every topic. */
  topics?: string[];
  type?: string;
  key?: string;
  /** Inclusive lower bound of `time`, epoch ms. */
  fromTime?: number;
  /** Exclusive upper bound of `time`, epoch ms. */
  toTime?: number;
  order?: "asc" | "desc";
  /** 1 to {@link MAX_LIMIT}; {@link DEFAULT_LIMIT} when absent. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** A CEL expression over the event. */
  filter?: string;
  /** Equality on top-level data fields (at most 10). */
  dataEquals?: Array<{ field: string; value: string | number | boolean | null }>;
}

/**
 * Checks a search and compiles what it needs: topic patterns, the cursor and the CEL `filter` (with `filterOptions`,
 * the hub's error counter).
 * @throws HubError (400) naming the parameter at fault.
 */
export function parseEventSearch(input: EventSearchInput, filterOptions: CompileFilterOptions = {}): EventSearch {
  const query: EventSearch["query"] = { order: input.order ?? "asc" };
  const topicValues = input.topics ?? [];
  const matchers = parseTopics(topicValues, query);
  if (input.type !== undefined) query.type = input.type;
  if (input.key !== undefined) query.key = input.key;
  if (input.fromTime !== undefined) query.fromTime = input.fromTime;
  if (input.toTime !== undefined) query.toTime = input.toTime;
  if (query.fromTime !== undefined && query.toTime !== undefined && query.fromTime > query.toTime) {
    throw new HubError("SB_QUERY_INVALID_TIME", "from is after to");
  }
  const limit = input.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new HubError("SB_QUERY_INVALID", `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}`);
  const after = input.cursor === undefined || input.cursor === "" ? undefined : decodeCursor(input.cursor);
  const filter = input.filter === undefined || input.filter === "" ? undefined : compileFilter(input.filter, filterOptions);
  if ((input.dataEquals?.length ?? 0) > 10) throw new HubError("SB_QUERY_INVALID", "at most 10 data fields per search");
  if (input.dataEquals && input.dataEquals.length > 0) query.dataEquals = input.dataEquals;
  return { query, limit, after, matchers, filter, topicPatterns: topicValues };
}

/**
 * Turns topic names and patterns into the store's topic terms on `query`, and the matchers that check patterns on
 * the rows it returns.
 */
function parseTopics(topicValues: string[], query: EventSearch["query"]): TopicMatcher[] {
  const matchers: TopicMatcher[] = [];
  if (topicValues.length > 50) throw new HubError("SB_QUERY_INVALID", "at most 50 topics per search");
  for (const t of topicValues) {
    const problem = topicPatternProblem(t);
    if (problem) throw new HubError("SB_QUERY_INVALID", `topic: ${problem}`);
    const m = compileTopicPattern(t);
    if (m.exact) (query.topics ??= []).push(t);
    else {
      matchers.push(m);
      (query.topicPrefixes ??= []).push(m.prefix);
    }
  }
  if (matchers.length > 0 && query.topics) {
    // Exact names join the JS check, since the store's prefix terms admit more than the patterns.
    for (const t of query.topics) matchers.push(compileTopicPattern(t));
  }
  if (matchers.length > 0 && query.topicPrefixes!.includes("")) {
    // A leading wildcard: the store cannot narrow by topic at all (exact names included); the matchers decide.
    delete query.topicPrefixes;
    delete query.topics;
  }
  return matchers;
}

/**
 * Runs a search: the store narrows by its indexes; topic patterns and the CEL filter are checked here, reading on
 * until the page is full or {@link MAX_SCANNED_ROWS} rows were read.
 */
export async function searchEvents(store: Store, search: EventSearch): Promise<EventPage> {
  const needsCheck = search.matchers.length > 0 || search.filter !== undefined;
  const events: StoredEvent[] = [];
  let after = search.after;
  let scanned = 0;
  for (;;) {
    const batchSize = needsCheck ? Math.min(MAX_SCANNED_ROWS - scanned, Math.max(search.limit * 2, 200)) : search.limit - events.length;
    const rows = await store.events.search({ ...search.query, after, limit: batchSize });
    scanned += rows.length;
    for (const row of rows) {
      after = { time: row.time, seq: row.seq };
      if (needsCheck && !checks(search, row)) continue;
      events.push(row);
      if (events.length === search.limit) return { events, nextCursor: encodeCursor(after) };
    }
    if (rows.length < batchSize) return { events, nextCursor: null };
    if (scanned >= MAX_SCANNED_ROWS) return { events, nextCursor: after ? encodeCursor(after) : null };
  }
}

function checks(search: EventSearch, e: StoredEvent): boolean {
  if (search.matchers.length > 0 && !search.matchers.some((m) => m.matches(e.topic))) return false;
  return search.filter === undefined || search.filter.matches(e);
}

/** Opaque cursor: base64url of `time.seq`. */
export function encodeCursor(c: EventCursor): string {
  return Buffer.from(`${c.time}.${c.seq}`).toString("base64url");
}

function decodeCursor(cursor: string): EventCursor {
  const m = /^(-?\d+)\.(\d+)$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!m || cursor.length > 64) throw new HubError("SB_QUERY_INVALID_CURSOR", "the cursor is not one this hub gave out");
  return { time: Number(m[1]), seq: Number(m[2]) };
}
