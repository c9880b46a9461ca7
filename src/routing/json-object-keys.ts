import { charge } from "./evaluation-budget.js";
import { FILTER_COST } from "./filter-cost.js";

/**
 * JSON objects in filters: their keys are enumerated once per object and charged at each use, and cel-js is kept
 * from enumerating them to type an object.
 */

/** A map from JSON (cel-js also takes `Map`s, which know their size). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const keysCache = new WeakMap<object, string[]>();

/**
 * The keys of a JSON object, charged. V8 enumerates the keys of an object of many keys (a 1 MiB body holds about
 * 100,000) at about 200 ns a key, in one go: the keys are kept per object, so that an event is enumerated once
 * however many filters and loops look at it, and charged each time, so that every filter gets the same result.
 */
export function chargeKeys(o: object): string[] {
  let keys = keysCache.get(o);
  if (!keys) {
    keys = Object.keys(o);
    keysCache.set(o, keys);
  }
  charge(keys.length * FILTER_COST.entry);
  return keys;
}

/**
 * Makes cel-js type a JSON object as `map(dyn, dyn)` without enumerating its keys. cel-js looks at the first entry
 * of a `dyn` map operand to pick an overload (`==`, `in`, a function call), which for an object of many keys
 * enumerates them all, on every call. Only membership of a non-string key in such a map changes: it is `false`
 * instead of an error.
 * @throws Error when the evaluator is not shaped as in cel-js 8, so that an upgrade fails closed.
 */
export function protectEvaluator(evaluator: unknown): void {
  const ev = evaluator as { debugType?: (v: unknown) => unknown; debugTypeDeep?: (v: unknown) => unknown };
  const deep = ev.debugTypeDeep;
  const shallow = ev.debugType;
  if (typeof deep !== "function" || typeof shallow !== "function") throw new Error("unexpected cel-js evaluator: no debugTypeDeep");
  ev.debugTypeDeep = function (this: unknown, v: unknown) {
    return isPlainObject(v) ? shallow.call(this, v) : deep.call(this, v);
  };
}
