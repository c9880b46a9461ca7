import { FILTER_COST, MAX_PRODUCED_STRING } from "./filter-cost.js";

/**
 * The size algebra of the static estimate: upper bounds on values' lengths, and costs amortized over the loops
 * whose parts they measure (the glossary atop `filter-cost.ts` defines size and part).
 */

/** Upper bounds on a value's length and on what lies inside it. */
export interface Size {
  /** Characters, when a string (or bytes). */
  str: number;
  /** Elements or entries, when a list or map. */
  list: number;
  /** The size of each element (non-disjoint lists only). */
  item?: Size;
  /** The elements' sizes add up to at most `str`/`list` (event data, `split` results). */
  disjoint?: boolean;
  /** Set on parts: the loops (ids) over whose iterations these sizes add up to at most `str`/`list`. */
  owners?: readonly number[];
}

/** A cost proportional to the size of a part, amortized over its owner loops. */
export interface Term {
  cost: number;
  owners: readonly number[];
}

/** A cost: a fixed part, and terms amortized over loops. */
export class Cost {
  fixed: number;
  terms: Term[] = [];
  constructor(fixed = 0) {
    this.fixed = fixed;
  }
  add(other: Cost): this {
    this.fixed += other.fixed;
    for (const t of other.terms) this.term(t.cost, t.owners);
    return this;
  }
  term(cost: number, owners: readonly number[] | undefined): this {
    if (!owners || owners.length === 0) this.fixed += cost;
    else {
      const same = this.terms.find((t) => t.owners.length === owners.length && t.owners.every((o, i) => o === owners[i]));
      if (same) same.cost += cost;
      else this.terms.push({ cost, owners });
    }
    return this;
  }
  /** A cost proportional to a size: amortized when the size is a part's. */
  sized(cost: number, size: Size): this {
    return this.term(cost, size.owners);
  }
  total(): number {
    return this.terms.reduce((sum, t) => sum + t.cost, this.fixed);
  }
}

/** The cost of evaluating a node once, and the size of its value. */
export interface Estimate {
  cost: Cost;
  size: Size;
}

/** The size of a number, bool, null or time: nothing inside. */
export const SCALAR: Size = Object.freeze({ str: 0, list: 0 });

/** A string of at most `n` characters (capped at the produced-string limit). */
export function str(n: number, owners?: readonly number[]): Size {
  return owners?.length ? { str: Math.min(n, MAX_PRODUCED_STRING), list: 0, owners } : { str: Math.min(n, MAX_PRODUCED_STRING), list: 0 };
}

/** The size of a field or element of a value of size `s`. */
export function field(s: Size): Size {
  if (s.disjoint) return { str: s.str, list: s.list, disjoint: true, ...(s.owners ? { owners: s.owners } : {}) };
  return s.item ?? SCALAR;
}

/** The loops that both sizes are parts of, if any. */
export function sharedOwners(a: Size, b: Size): readonly number[] | undefined {
  if (!a.owners || !b.owners) return undefined;
  const shared = a.owners.filter((o) => b.owners!.includes(o));
  return shared.length ? shared : undefined;
}

/** Everything inside a value, nested elements included: the bounds of a disjoint value. */
export function totals(s: Size): { str: number; list: number } {
  if (s.disjoint || !s.item) return { str: s.str, list: s.list };
  const inner = totals(s.item);
  return { str: s.str + s.list * inner.str, list: s.list + s.list * inner.list };
}

/** A size that bounds both. */
export function join(a: Size, b: Size): Size {
  const owners = sharedOwners(a, b);
  let out: Size;
  if (a.disjoint || b.disjoint) {
    const ta = totals(a);
    const tb = totals(b);
    out = { str: Math.max(ta.str, tb.str), list: Math.max(ta.list, tb.list), disjoint: true };
  } else {
    out = { str: Math.max(a.str, b.str), list: Math.max(a.list, b.list) };
    if (a.item || b.item) out.item = join(a.item ?? SCALAR, b.item ?? SCALAR);
  }
  if (owners) out.owners = owners;
  return out;
}

/** Forget loop `id`: its parts are not parts of anything once the loop is left. */
export function release(s: Size, id: number): Size {
  const owners = s.owners?.filter((o) => o !== id);
  const out: Size = { str: s.str, list: s.list };
  if (s.disjoint) out.disjoint = true;
  if (s.item) out.item = release(s.item, id);
  if (owners?.length) out.owners = owners;
  return out;
}

/** Upper bound on the work of comparing or hashing a value of this size, element by element. */
export function deepCost(s: Size): number {
  const own = s.list * FILTER_COST.entry + s.str * FILTER_COST.char;
  return s.disjoint || !s.item ? own : own + s.list * deepCost(s.item);
}

/** Upper bound on the work of comparing a value of this size with another. */
export function compareCost(s: Size): number {
  const t = totals(s);
  return t.list * FILTER_COST.entry + t.str * FILTER_COST.compareChar;
}
