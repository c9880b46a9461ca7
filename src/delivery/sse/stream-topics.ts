import type { EventCursor, EventQuery, Store } from "../../store/store.js";
import type { StreamSelection } from "./stream-hub.js";

/** Most rows read to find the oldest event of a stream's topics for a reset frame (as a search reads at most). */
const MAX_OLDEST_SCAN = 10_000;

/** Whether a topic is one of the selection's (no topics: every topic). */
export function selectsTopic(selection: StreamSelection, topic: string): boolean {
  const { topics } = selection;
  if (topics.length === 0) return true;
  for (const m of topics) if (m.matches(topic)) return true;
  return false;
}

/**
 * The id of the oldest stored event of the selection's topics, in the order of a search (`time`, then `seq`): the
 * first event `GET BASE_PATH/events` with the same topics returns. The filter is not applied (it could be costly
 * over many rows, and the topics alone bound what the stream may see). Undefined when there is none, or none
 * within {@link MAX_OLDEST_SCAN} rows (patterns with a leading wildcard cannot be narrowed by the store).
 */
export async function oldestSelected(store: Store, selection: StreamSelection): Promise<string | undefined> {
  const query: EventQuery = { order: "asc", limit: 1 };
  const { topics } = selection;
  const exact = topics.filter((m) => m.exact).map((m) => m.pattern);
  const prefixes = topics.filter((m) => !m.exact).map((m) => m.prefix);
  // The store narrows by names and literal prefixes; a prefix term admits more than its pattern, so rows are checked.
  if (topics.length > 0 && !prefixes.includes("")) {
    if (exact.length > 0) query.topics = exact;
    if (prefixes.length > 0) query.topicPrefixes = prefixes;
  }
  const exactOnly = prefixes.length === 0;
  let after: EventCursor | undefined;
  for (let scanned = 0; scanned < MAX_OLDEST_SCAN;) {
    const limit = exactOnly ? 1 : Math.min(500, MAX_OLDEST_SCAN - scanned);
    const rows = await store.events.search({ ...query, limit, after });
    for (const row of rows) if (selectsTopic(selection, row.topic)) return row.id;
    if (rows.length < limit) return undefined;
    scanned += rows.length;
    after = { time: rows[rows.length - 1]!.time, seq: rows[rows.length - 1]!.seq };
  }
  return undefined;
}
