import { charge, stop, WRONG_TYPE } from "./evaluation-budget.js";
import { FILTER_COST, MAX_PRODUCED_LIST, MAX_PRODUCED_STRING } from "./filter-cost.js";
import { chargeKeys, isPlainObject } from "./json-object-keys.js";

/**
 * What operations whose work grows with their input charge before they run (string functions, `split`, `join`,
 * comparisons of strings, lists and maps), and the caps on what they produce.
 */

/** The length of a string, list or bytes, the entries of a `Map` or `Set`; 0 otherwise. */
function sizeOf(v: unknown): number {
  if (typeof v === "string") return v.length;
  if (Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  return 0;
}

/**
 * Charges the work of comparing or searching `v` element by element (every nested element and character), and
 * stops as soon as the budget is spent, so counting costs no more than the comparison it pays for.
 */
export function chargeDeep(v: unknown, perChar: number): void {
  if (typeof v === "string") return charge(v.length * perChar);
  if (v === null || typeof v !== "object") return;
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x === "string") charge(x.length * perChar);
    else if (x !== null && typeof x === "object") {
      if (Array.isArray(x)) {
        charge(x.length * FILTER_COST.element);
        for (const e of x)
          if (e !== null && typeof e === "object") stack.push(e);
          else if (typeof e === "string") stack.push(e);
      } else if (isPlainObject(x)) {
        for (const k of chargeKeys(x)) {
          const e = x[k];
          if ((e !== null && typeof e === "object") || typeof e === "string") stack.push(e);
        }
      }
    }
  }
}

/** Charges comparing `l` with `r`: only equal-length strings and collections cost more than a step. */
export function chargeComparison(l: unknown, r: unknown): void {
  if (typeof l === "string") {
    // V8 compares lengths first; equal lengths compare character by character
    if (typeof r === "string" && l.length === r.length) charge(l.length * FILTER_COST.compareChar);
  } else if (l !== null && typeof l === "object" && r !== null && typeof r === "object") {
    chargeDeep(sizeOf(l) <= sizeOf(r) ? l : r, FILTER_COST.compareChar);
  }
}

/** Stops the evaluation when `out` is a string or list over the caps; returns it otherwise. */
export function checkProduced(out: unknown): unknown {
  if (typeof out === "string" || out instanceof Uint8Array) {
    if (out.length > MAX_PRODUCED_STRING) stop();
  } else if (Array.isArray(out) && out.length > MAX_PRODUCED_LIST) stop();
  return out;
}

/** What a guarded function charges before it runs, given its receiver (or first argument) and arguments. */
export type Pricing = (args: unknown[]) => void;

const scan: Pricing = (args) => {
  for (const a of args) if (typeof a === "string") charge(a.length * FILTER_COST.char);
};
const copy: Pricing = (args) => {
  const s = args[0];
  if (typeof s === "string" || s instanceof Uint8Array) {
    if (s.length > MAX_PRODUCED_STRING) stop();
    charge(2 * s.length * FILTER_COST.char);
  }
};

/** The pricing of each guarded function, by name. */
export const PRICING: Record<string, Pricing> = {
  size: ([s]) => {
    if (typeof s === "string") charge(s.length * FILTER_COST.codePoint);
  },
  contains: scan,
  startsWith: scan,
  endsWith: scan,
  indexOf: scan,
  lastIndexOf: scan,
  int: scan,
  uint: scan,
  double: scan,
  bool: scan,
  lowerAscii: copy,
  upperAscii: copy,
  trim: copy,
  substring: copy,
  bytes: copy,
  string: copy,
  hex: ([b]) => copy([b, b]),
  base64: ([b]) => copy([b, b]),
  json: ([b]) => {
    if (b instanceof Uint8Array) charge(b.length * FILTER_COST.jsonByte);
  },
  split: ([s]) => {
    // a split yields at most one more piece than the string has characters
    if (typeof s === "string") charge(s.length * FILTER_COST.char + (s.length + 1) * FILTER_COST.element);
  },
  join: ([list, separator]) => {
    if (!Array.isArray(list)) return;
    let length = typeof separator === "string" ? Math.max(0, list.length - 1) * separator.length : 0;
    for (const e of list) if (typeof e === "string") length += e.length;
    if (length > MAX_PRODUCED_STRING) stop();
    charge(list.length * FILTER_COST.element + length * FILTER_COST.char);
  },
  duration: ([s]) => {
    // cel-js parses durations with a backtracking regex: keep its input short
    if (typeof s === "string" && s.length > 64) throw WRONG_TYPE;
  },
};
