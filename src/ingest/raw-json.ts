/**
 * Finds values inside JSON text that `JSON.parse` has already accepted, so that an event's data can be stored
 * exactly as posted: numbers keep their digits (no precision lost past 2^53, `1.50` stays `1.50`) and strings their
 * escapes. Only insignificant whitespace is removed, so a value is always one line (one SSE `data:` line).
 *
 * The scanner trusts its input to be valid JSON; it never validates.
 */

/** A half-open range `[start, end)` of a JSON value in the text. */
export interface Span {
  start: number;
  end: number;
  /** True when the scan that found the span saw no whitespace inside it: {@link compact} then only slices. */
  dense?: boolean;
  /** For an object's span from {@link elementSpans} given keys: those keys, and their members' spans, found on the way. */
  memberKeys?: readonly string[];
  members?: (Span | undefined)[];
}

/** The span of the whole text, without surrounding whitespace. */
export function wholeSpan(text: string): Span {
  const start = skipWs(text, 0);
  let end = text.length;
  while (end > start && isWs(text.charCodeAt(end - 1))) end--;
  return { start, end };
}

/**
 * The spans of the elements of the array at `span`. With `keys`, the spans of those members of each element that is
 * an object are found in the same walk, for {@link memberSpan} to answer without walking the element again.
 */
export function elementSpans(text: string, span: Span, keys?: readonly string[]): Span[] {
  const out: Span[] = [];
  let i = skipWs(text, span.start + 1); // past '['
  if (text.charCodeAt(i) === 0x5d /* ] */) return out;
  for (;;) {
    let element: Span;
    if (keys !== undefined && text.charCodeAt(i) === 0x7b /* { */) element = objectSpan(text, i, keys);
    else element = { start: i, end: valueEnd(text, i), dense: !sawWs };
    out.push(element);
    i = skipWs(text, element.end);
    if (text.charCodeAt(i) === 0x2c /* , */) i = skipWs(text, i + 1);
    else return out;
  }
}

/** The span of the value of member `key` in the object at `span` (the last one, as JSON.parse keeps), if any. */
export function memberSpan(text: string, span: Span, key: string): Span | undefined {
  const known = span.memberKeys === undefined ? -1 : span.memberKeys.indexOf(key);
  if (known !== -1) return span.members![known];
  let found: Span | undefined;
  let i = skipWs(text, span.start + 1); // past '{'
  if (text.charCodeAt(i) === 0x7d /* } */) return undefined;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const matches = keyIs(text, i + 1, keyEnd - 1, key);
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // past ':'
    const end = valueEnd(text, i);
    if (matches) found = { start: i, end, dense: !sawWs };
    i = skipWs(text, end);
    if (text.charCodeAt(i) === 0x2c /* , */) i = skipWs(text, i + 1);
    else return found;
  }
}

/** The span of the object starting at `start`, with the spans of its members named in `keys` (the last of each name). */
function objectSpan(text: string, start: number, keys: readonly string[]): Span {
  const members: (Span | undefined)[] = keys.map(() => undefined);
  let i = skipWs(text, start + 1); // past '{'
  let dense = i === start + 1;
  if (text.charCodeAt(i) !== 0x7d /* } */) {
    for (;;) {
      const keyEnd = stringEnd(text, i);
      let k = keys.length - 1;
      while (k >= 0 && !keyIs(text, i + 1, keyEnd - 1, keys[k]!)) k--;
      i = skipWs(text, keyEnd);
      const value = skipWs(text, i + 1); // past ':'
      const end = valueEnd(text, value);
      if (sawWs || i !== keyEnd || value !== i + 1) dense = false;
      if (k !== -1) members[k] = { start: value, end, dense: !sawWs };
      i = skipWs(text, end);
      if (i !== end) dense = false;
      if (text.charCodeAt(i) !== 0x2c /* , */) break;
      const next = skipWs(text, i + 1);
      if (next !== i + 1) dense = false;
      i = next;
    }
  }
  return { start, end: i + 1, dense, memberKeys: keys, members };
}

/** The text of `span` without insignificant whitespace. */
export function compact(text: string, span: Span): string {
  if (span.dense === true) return text.slice(span.start, span.end);
  let out = "";
  let copyFrom = span.start;
  let i = span.start;
  while (i < span.end) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = stringEnd(text, i);
    } else if (isWs(c)) {
      out += text.slice(copyFrom, i);
      while (i < span.end && isWs(text.charCodeAt(i))) i++;
      copyFrom = i;
    } else i++;
  }
  return copyFrom === span.start ? text.slice(span.start, span.end) : out + text.slice(copyFrom, span.end);
}

/**
 * Whether the key text `text[from, to)` (between its quotes) reads `key`. Written without escapes it is `key` itself,
 * compared in place; an escape makes the text longer than what it spells, so only a longer one is decoded.
 */
function keyIs(text: string, from: number, to: number, key: string): boolean {
  const length = to - from;
  if (length === key.length) return text.startsWith(key, from);
  if (length < key.length) return false;
  for (let j = from; j < to; j++) {
    if (text.charCodeAt(j) === 0x5c /* \ */) return JSON.parse(text.slice(from - 1, to + 1)) === key;
  }
  return false;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && isWs(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string starting at `i` (which is a quote). */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q === -1) return text.length;
    // Count the backslashes before the quote: an odd number escapes it.
    let k = q - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Whether the last {@link valueEnd} saw whitespace outside strings within the value (set by it, read at once). */
let sawWs = false;

/** Index just past the value starting at `i`; sets {@link sawWs}. */
function valueEnd(text: string, i: number): number {
  sawWs = false;
  const c = text.charCodeAt(i);
  if (c === 0x22 /* " */) return stringEnd(text, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    let j = i;
    const n = text.length;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === 0x22) {
        j = stringEnd(text, j);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return j + 1;
      } else if (isWs(d)) sawWs = true;
      j++;
    }
    return n;
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break;
    j++;
  }
  return j;
}
