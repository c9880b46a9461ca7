/**
 * The quick case of fastify's JSON parser. That parser (secure-json-parse) runs `JSON.parse`, then two regular
 * expressions over the whole text looking for a `__proto__` or `constructor` key, each tried at every quote; only on
 * a match does it walk the parsed value to refuse such a key. Text that holds neither word nor any `\u` escape (the
 * only other way to spell them) cannot match either expression, so `JSON.parse` alone gives the same value; three
 * substring searches cost less than the two expressions. Anything else (a possible key, text `JSON.parse` refuses,
 * an empty body) is left to fastify's parser, which words the error.
 */

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
