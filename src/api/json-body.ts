/**
 * The quick case of fastify's JSON parser. That parser (secure-json-parse) runs `JSON.parse`, then two regular
 * expressions over the whole text looking for a `__proto__` or `constructor` key, each tried at every quote; only on
 * a match does it walk the parsed value to refuse such a key. Text that holds neither word nor any `\u` escape (the
 * only other way to spell them) cannot match either expression, so `JSON.parse` alone gives the same value; three
 * substring searches cost less than the two expressions. Anything else (a possible key, text `JSON.parse` refuses,
 * an empty body) is left to fastify's parser, which words the error.
 */

import { HubError } from "../errors.js";
import { jsonDepthExceeds } from "./limits.js";

/** What {@link parseJsonQuickly} returns when fastify's parser must decide. */
export const UNDECIDED: unique symbol = Symbol("undecided");

/**
 * `JSON.parse(text)` when the text cannot hold a `__proto__` or `constructor` key and parses; else {@link UNDECIDED}.
 * @example const value = parseJsonQuickly(text); if (value === UNDECIDED) fastifyParser(request, text, done);
 */
export function parseJsonQuickly(text: string): unknown {
  if (text.includes("__proto__") || text.includes("constructor") || text.includes("\\u")) return UNDECIDED;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return UNDECIDED;
  }
}

/** fastify's JSON parser with its request bound: it answers through `done` before it returns. */
export type JsonParser = (text: string, done: (error: Error | null, value: unknown) => void) => void;

/**
 * A JSON request body as every JSON route and the lean publish path read it: a leading BOM dropped (as JSON.parse's
 * wrapper would; kept in the raw text, it would be stored as part of the data, which would then not be JSON), nesting
 * checked on the text first (one pass without recursion, so a body thousands deep costs no stack), then parsed:
 * `JSON.parse` alone when the text cannot hold a prototype key, else `parseJson`, which refuses one.
 * @returns the text without its BOM (the raw body, stored as posted) and the value.
 * @throws HubError `SB_REQUEST_TOO_DEEP`, or the parser's error.
 */
export function readJsonBody(raw: string, maxJsonDepth: number, parseJson: JsonParser): { text: string; body: unknown } {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (jsonDepthExceeds(text, maxJsonDepth)) {
    throw new HubError("SB_REQUEST_TOO_DEEP", `the body nests arrays and objects more than ${maxJsonDepth} deep`);
  }
  let body = parseJsonQuickly(text);
  if (body === UNDECIDED) {
    let parseError: Error | null = null;
    parseJson(text, (error, value) => {
      parseError = error;
      body = value;
    });
    if (parseError !== null) throw parseError;
  }
  return { text, body };
}
