import { RE2JS } from "re2js";

/** RE2 patterns for `matches` (re2js, a pure-JS port: linear time, no backreferences or lookaround), cached. */

const REGEX_CACHE_SIZE = 256;
const regexCache = new Map<string, RE2JS>();

/**
 * Compiles an RE2 pattern, from a cache of the last {@link REGEX_CACHE_SIZE} patterns.
 * @throws Error with RE2's message when the pattern is not valid RE2 syntax (backreferences, lookaround…).
 */
export function compileRegex(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (re) {
    regexCache.delete(pattern); // most recently used last
    regexCache.set(pattern, re);
    return re;
  }
  re = RE2JS.compile(pattern);
  if (regexCache.size >= REGEX_CACHE_SIZE) regexCache.delete(regexCache.keys().next().value!);
  regexCache.set(pattern, re);
  return re;
}

/** The instructions of a pattern's compiled program, the measure of its matching cost per character. */
export function regexInstructions(pattern: string): number {
  return compileRegex(pattern).programSize();
}
