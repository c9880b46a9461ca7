/** The parameters of the append statements (see `sql/append.ts`), built from a batch's events (see `pg-append.ts`). */
import { eventMinutes, type EventMinuteColumns } from "../rollups.js";
import { hasKeys } from "../rows.js";
import type { NewEvent } from "../store.js";

/** The events as the ten column parameters ($1–$10) of APPEND_SQL. */
export function eventColumns(events: NewEvent[], data: string[]): unknown[] {
  return [
    events.map((e) => e.id),
    events.map((e) => e.topic),
    events.map((e) => e.type),
    events.map((e) => e.source),
    events.map((e) => e.subject),
    events.map((e) => e.time),
    events.map((e) => e.key),
    data,
    events.map((e) => (hasKeys(e.attributes) ? JSON.stringify(e.attributes) : null)),
    events.map((e) => e.receivedAt),
  ];
}

/**
 * The parameters $1–$20 of the plain append statements, or undefined when a data text, id or topic holds U+001E. The ids,
 * topics and data texts go joined by U+001E rather than as text arrays, and the times as array literals joined here:
 * pg escapes array elements one by one in JavaScript (two regular expressions and a copy each), which cost more than
 * everything else in a batch (JSON text is full of quotes). A plain batch's ids are the hub's ULIDs and its topics
 * are checked names, never empty (an empty string alone would be split into no element); valid JSON text never holds a raw U+001E
 * (control characters are escaped inside strings and not allowed outside them). Text that does goes the careful way.
 */
export function plainParams(events: NewEvent[], now: number, rollups: boolean): unknown[] | undefined {
  const ids: string[] = [];
  const topics: string[] = [];
  const times: number[] = [];
  const dataTexts: string[] = [];
  const receivedAt: number[] = [];
  for (const e of events) {
    if (e.dataJson.includes("\x1e") || !joinable(e.id) || !joinable(e.topic)) return undefined;
    ids.push(e.id);
    topics.push(e.topic);
    times.push(e.time);
    dataTexts.push(e.dataJson);
    receivedAt.push(e.receivedAt);
  }
  return [
    ids.join("\x1e"),
    topics.join("\x1e"),
    events.map((e) => e.type),
    events.map((e) => e.source),
    events.map((e) => e.subject),
    `{${times.join(",")}}`,
    events.map((e) => e.key),
    dataTexts.join("\x1e"),
    events.map((e) => (hasKeys(e.attributes) ? JSON.stringify(e.attributes) : null)),
    `{${receivedAt.join(",")}}`,
    now,
    ...minuteColumns(rollups ? eventMinutes([events]) : NO_MINUTES),
    headerColumn(events),
    ...topicCountColumns(events),
  ];
}

/** Whether `text` can go joined by U+001E and be split again into itself: not empty, no U+001E. */
function joinable(text: string): boolean {
  return text.length > 0 && !text.includes("\x1e");
}

/** The topics' counts of a batch as the parameters $18–$20 of the plain append statements: names, counts, last received_at. */
function topicCountColumns(events: readonly NewEvent[]): unknown[] {
  const counts = new Map<string, { count: number; last: number }>();
  for (const e of events) {
    const c = counts.get(e.topic);
    if (c) {
      c.count++;
      if (e.receivedAt > c.last) c.last = e.receivedAt;
    } else counts.set(e.topic, { count: 1, last: e.receivedAt });
  }
  const names = [...counts.keys()];
  return [names, names.map((n) => counts.get(n)!.count), names.map((n) => counts.get(n)!.last)];
}

/** No minutes: the fast path's rollup CTE then inserts nothing (rollups off). */
const NO_MINUTES: EventMinuteColumns = { t: [], topic: [], type: [], count: [], bytes: [] };

/** The captured headers of the events as JSON texts (null for none): $14 of APPEND_SQL, $17 of the plain statements. */
export function headerColumn(events: NewEvent[]): unknown[] {
  return events.map((e) => (e.headers && hasKeys(e.headers) ? JSON.stringify(e.headers) : null));
}

/** A batch's event minutes as the five column parameters of `eventMinutesCte`. */
export function minuteColumns(m: EventMinuteColumns): unknown[] {
  return [m.t, m.topic, m.type, m.count, m.bytes];
}
