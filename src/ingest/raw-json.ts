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
}

/** The span of the whole text, without surrounding whitespace. */
export function wholeSpan(text: string): Span {
  const start = skipWs(text, 0);
  let end = text.length;
  while (end > start && isWs(text.charCodeAt(end - 1))) end--;
  return { start, end };
}

/** The spans of the elements of the array at `span`. */
export function elementSpans(text: string, span: Span): Span[] {
  const out: Span[] = [];
  let i = skipWs(text, span.start + 1); // past '['
  if (text[i] === "]") return out;
  for (;;) {
    const end = valueEnd(text, i);
    out.push({ start: i, end });
    i = skipWs(text, end);
    if (text[i] === ",") i = skipWs(text, i + 1);
    else return out;
  }
}

/** The span of the value of member `key` in the object at `span` (the last one, as JSON.parse keeps), if any. */
export function memberSpan(text: string, span: Span, key: string): Span | undefined {
  let found: Span | undefined;
  let i = skipWs(text, span.start + 1); // past '{'
  if (text[i] === "}") return undefined;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const name = raw.includes("\\") ? (JSON.parse(text.slice(i, keyEnd)) as string) : raw;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // past ':'
    const end = valueEnd(text, i);
    if (name === key) found = { start: i, end };
    i = skipWs(text, end);
    if (text[i] === ",") i = skipWs(text, i + 1);
    else return found;
  }
}

/** The text of `span` without insignificant whitespace. */
export function compact(text: string, span: Span): string {
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

/** Index just past the value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return stringEnd(text, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text[j];
      if (d === '"') {
        j = stringEnd(text, j);
        continue;
      }
      if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return text.length;
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
