import { HubError } from "../errors.js";
import { compileFilter, type CompileFilterOptions, type EventFilter } from "../routing/filter.js";
import { compileTopicPattern, topicPatternProblem, type TopicMatcher } from "../routing/topic-pattern.js";
import type { EventCursor, EventQuery, Store, StoredEvent } from "../store/store.js";
import { parseTime } from "../time.js";

/** Query parameters with a meaning of their own; any other parameter is equality on a top-level data field. */
export const RESERVED_PARAMS = new Set(["topic", "type", "key", "from", "to", "limit", "cursor", "order", "filter"]);

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

type Params = Record<string, string | string[] | undefined>;

/**
 * Reads a search from query parameters; `filterOptions` go to the compiled `filter` (the hub's error counter).
 * @throws HubError (400) naming the parameter at fault.
 */
export function parseEventSearch(params: Params, filterOptions: CompileFilterOptions = {}): EventSearch {
  const one = (name: string): string | undefined => {
    const v = params[name];
    if (Array.isArray(v)) {
      if (v.length > 1) throw new HubError("SB_QUERY_INVALID", `${name} may be given once`);
      return v[0];
    }
    return v;
  };
  const query: EventSearch["query"] = { order: "asc" };
  const { matchers, topicValues } = parseTopics(params.topic, query);

  const type = one("type");
  if (type !== undefined) query.type = type;
  const key = one("key");
  if (key !== undefined) query.key = key;

  const from = one("from");
  if (from !== undefined) query.fromTime = timeParam("from", from);
  const to = one("to");
  if (to !== undefined) query.toTime = timeParam("to", to);
  if (query.fromTime !== undefined && query.toTime !== undefined && query.fromTime > query.toTime) {
    throw new HubError("SB_QUERY_INVALID_TIME", "from is after to");
  }

  const order = one("order");
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc") throw new HubError("SB_QUERY_INVALID", `order must be asc or desc, got ${JSON.stringify(order)}`);
    query.order = order;
  }

  let limit = DEFAULT_LIMIT;
  const limitParam = one("limit");
  if (limitParam !== undefined) {
    if (!/^\d+$/.test(limitParam) || Number(limitParam) < 1 || Number(limitParam) > MAX_LIMIT) {
      throw new HubError("SB_QUERY_INVALID", `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limitParam)}`);
    }
    limit = Number(limitParam);
  }

  const cursor = one("cursor");
  const after = cursor === undefined || cursor === "" ? undefined : decodeCursor(cursor);

  const filterSource = one("filter");
  const filter = filterSource === undefined || filterSource === "" ? undefined : compileFilter(filterSource, filterOptions);

  for (const [name, value] of Object.entries(params)) {
    if (RESERVED_PARAMS.has(name) || value === undefined) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/.test(name)) {
      throw new HubError("SB_QUERY_INVALID", `unknown parameter ${JSON.stringify(name)}; data fields must be names of letters, digits, '_' or '-'`);
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length > 1) throw new HubError("SB_QUERY_INVALID", `${name} may be given once`);
    (query.dataEquals ??= []).push({ field: name, value: typedValue(values[0]!) });
  }
  if ((query.dataEquals?.length ?? 0) > 10) throw new HubError("SB_QUERY_INVALID", "at most 10 data fields per search");

  return { query, limit, after, matchers, filter, topicPatterns: topicValues };
}

/**
 * Reads the `topic` parameter (names and patterns, repeated or comma-separated) into the store's topic terms on
 * `query`, and the matchers that check patterns on the rows it returns.
 */
function parseTopics(topicParam: Params[string], query: EventSearch["query"]): { matchers: TopicMatcher[]; topicValues: string[] } {
  const matchers: TopicMatcher[] = [];
  const topicValues = (Array.isArray(topicParam) ? topicParam : topicParam === undefined ? [] : [topicParam])
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter((t) => t !== "");
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
  return { matchers, topicValues };
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

function timeParam(name: string, value: string): number {
  const t = parseTime(value);
  if (t === undefined) {
    throw new HubError(
      "SB_QUERY_INVALID_TIME",
      `invalid ${name} parameter: unrecognized time format: ${JSON.stringify(value)} (use RFC 3339, "2006-01-02 15:04:05", a date, or epoch seconds/ms)`,
    );
  }
  return t;
}

/** `123` → 123, `true` → true, `null` → null, anything else the string itself. */
function typedValue(raw: string): string | number | boolean | null {
  if (/^-?(0|[1-9]\d{0,15})(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  return raw;
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
