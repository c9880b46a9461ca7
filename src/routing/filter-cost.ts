/**
 * The cost model of CEL filters, after Kubernetes' CEL cost model: a static estimate of a checked AST at compile
 * time, in the same units as the runtime budget that `filter-guard.ts` charges while a filter runs.
 *
 * Glossary:
 * - unit: about one AST node evaluated by cel-js (measured 30-50 ns on the reference machine, see docs/filters.md);
 * - size: an upper bound on a value's length (characters of a string, elements of a list, entries of a map);
 * - part: a value that lies inside one element of a list being iterated over. The parts visited by all iterations
 *   of that loop are disjoint pieces of one event, so their sizes add up to at most the event's size. A cost
 *   proportional to a part's size is therefore counted once for the whole loop (amortized), not once per iteration.
 *   Without this, `data.items.exists(i, i.name.contains("x"))` would count every name as large as the whole event.
 */

/**
 * Cost units and limits; the runtime guard charges with the same factors. The factors were measured on the
 * reference machine with Node 20 (`src/routing/filter-worst-case.test.ts`; docs/filters.md has the figures): one
 * unit is about 15 ns.
 */
export const FILTER_COST = Object.freeze({
  /**
   * Units one evaluation may spend (about 3 ms). Past it the evaluation stops and the event does not match. It is
   * also the limit of a filter's estimated cost on the smallest event: a filter over it could never match anything.
   */
  budget: 200_000,
  /**
   * The limit of a filter's estimated cost on the largest event the default body limit allows. One pass over the
   * largest event fits whatever the filter does per element; two nested passes, or a pass over the whole event per
   * element, do not.
   */
  limit: 1e11,
  /** One AST node evaluated. */
  node: 1,
  /** Per iteration of a comprehension, on top of its body. */
  iteration: 2,
  /** An error that cel-js catches and goes on after (inside `all`/`exists`, left of `||`/`&&`): a throw costs µs. */
  error: 300,
  /** Per character scanned, copied or converted (`toLowerCase` of a long string measured 8 ns per character). */
  char: 1 / 2,
  /** Per character of two strings of equal length compared. */
  compareChar: 1 / 8,
  /** Per character counted by `size(string)` (it walks code points). */
  codePoint: 1 / 3,
  /** Per list element produced, scanned or compared (a list `+` measured 80 ns per element). */
  element: 4,
  /**
   * Per key of a map enumerated (`size`, a loop over its keys, `==`): V8 enumerates the keys of a JSON object with
   * many of them at about 200 ns a key.
   */
  entry: 12,
  /** Per byte parsed by `bytes.json()`. */
  jsonByte: 2,
  /**
   * Per character of a `matches` subject: `regexChar`, plus `regexInstruction` per instruction of the compiled
   * program. RE2 is linear in both, and a pattern whose DFA outgrows its memory runs on the NFA at about 18 ns per
   * character and instruction.
   */
  regexChar: 1,
  regexInstruction: 1.25,
  /** Per character of a pattern compiled at run time (a pattern that is not a literal). */
  regexCompileChar: 200,
});

/** The longest string an evaluation may produce (concatenation, `join`, `lowerAscii`…); past it the evaluation fails. */
export const MAX_PRODUCED_STRING = 1 << 20;
/** The longest list an evaluation may produce (`split`, list `+`); past it the evaluation fails. */
export const MAX_PRODUCED_LIST = 1 << 20;
/** The longest pattern `matches` compiles at run time (a pattern built from the event). */
export const MAX_DYNAMIC_PATTERN = 1024;

/**
 * Worst-case sizes of what a filter reads from an event, derived from the default body limit (1 MiB) and the
 * event limits of `ingest/limits.ts` (routing does not import ingest; a test checks the two agree).
 * A string in a 1 MiB JSON body has at most 1,048,576 characters; a list at most 524,288 elements (`[0,0,…]`,
 * two bytes each), and a map fewer entries than that.
 */
export const EVENT_BOUNDS = Object.freeze({
  bodyBytes: 1_048_576,
  string: 1_048_576,
  list: 524_288,
  topic: 200,
  id: 200,
  type: 256,
  source: 1024,
  subject: 1024,
  key: 256,
  attributeCount: 64,
  attributeValue: 4096,
});

/** The cost of a `matches` call per character of its subject, for a program of `instructions` instructions. */
export function regexCharCost(instructions: number): number {
  return FILTER_COST.regexChar + instructions * FILTER_COST.regexInstruction;
}
