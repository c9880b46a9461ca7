import { childNodes, countNodes, mayFail, resolveNode, type CelNode, type Comprehension } from "./cel-ast.js";
import { FILTER_COST, MAX_DYNAMIC_PATTERN, MAX_PRODUCED_LIST, MAX_PRODUCED_STRING, regexCharCost } from "./filter-cost.js";
import { compareCost, Cost, deepCost, field, join, release, SCALAR, sharedOwners, str, totals, type Estimate, type Size } from "./filter-cost-size.js";

/**
 * The static estimate of a checked filter AST (the units and bounds are in `filter-cost.ts`): one rule per kind of
 * node ({@link estimateNode}), operator, comprehension and function call.
 */

/** Event sizes the estimate assumes. */
export interface EventSizes {
  string: number;
  list: number;
  topic: number;
  id: number;
  type: number;
  source: number;
  subject: number;
  key: number;
  attributeCount: number;
  attributeValue: number;
}

/** The smallest event: every string and collection empty. */
export const SMALLEST_EVENT: EventSizes = Object.freeze({
  string: 0,
  list: 0,
  topic: 0,
  id: 0,
  type: 0,
  source: 0,
  subject: 0,
  key: 0,
  attributeCount: 0,
  attributeValue: 0,
});

/** Options of {@link estimateFilterCost}. */
export interface EstimateOptions {
  /** Variable name → event field: `type` is renamed before parsing. */
  variables: Record<string, keyof FilterEventFields>;
  /** The number of instructions of a literal pattern's program, for `matches`. */
  regexInstructions: (pattern: string) => number;
}
interface FilterEventFields {
  data: unknown;
  attributes: unknown;
  topic: unknown;
  type: unknown;
  key: unknown;
  source: unknown;
  subject: unknown;
  id: unknown;
  time: unknown;
}

/**
 * The estimated cost, in units, of evaluating a checked filter AST once on an event of the given sizes: each
 * comprehension multiplies the cost of its body by the bound of what it ranges over, string functions cost in
 * proportion to their strings, and errors that cel-js swallows are counted as {@link FILTER_COST.error}.
 * @throws Error on an AST node kind it does not know.
 */
export function estimateFilterCost(ast: CelNode, event: EventSizes, options: EstimateOptions): number {
  const roots: Record<string, Size> = {
    data: { str: event.string, list: event.list, disjoint: true },
    attributes: { str: 0, list: event.attributeCount, item: str(event.attributeValue) },
    topic: str(event.topic),
    type: str(event.type),
    key: str(event.key),
    source: str(event.source),
    subject: str(event.subject),
    id: str(event.id),
    time: SCALAR,
  };
  const scope: Scope = new Map();
  for (const [name, fieldName] of Object.entries(options.variables)) scope.set(name, roots[fieldName]!);
  return estimateNode(ast, scope, { options, loops: 0, pushed: [] }).cost.total();
}

/** Variable name → the size of its value. */
type Scope = Map<string, Size>;

/** The state of one estimate, shared by its rules. */
interface EstimateContext {
  options: EstimateOptions;
  /** Loops entered so far: each gets the next id. */
  loops: number;
  /** Sizes pushed onto the accumulator of the innermost `map`/`filter`. */
  pushed: Size[];
}

/** The rules by node kind. */
function estimateNode(node: CelNode, sc: Scope, ctx: EstimateContext): Estimate {
  const n = resolveNode(node);
  const macro = n.meta.macro;
  if (macro?.val && macro.exp && macro.var) {
    const val = estimateNode(macro.val, sc, ctx);
    const exp = estimateNode(macro.exp, new Map(sc).set(macro.var, val.size), ctx);
    return { cost: new Cost(FILTER_COST.node).add(val.cost).add(exp.cost), size: exp.size };
  }
  if (macro) return { cost: new Cost(countNodes(n) * FILTER_COST.node), size: SCALAR };
  const a = n.args;
  switch (n.op) {
    case "value":
      return { cost: new Cost(FILTER_COST.node), size: typeof a === "string" ? str(a.length) : a instanceof Uint8Array ? str(a.length) : SCALAR };
    case "id":
      return { cost: new Cost(FILTER_COST.node), size: sc.get(a as string) ?? SCALAR };
    case "accuValue":
    case "accuInc":
      return { cost: new Cost(FILTER_COST.node), size: SCALAR };
    case "accuPush": {
      const e = estimateNode(a as CelNode, sc, ctx);
      ctx.pushed.push(e.size);
      return { cost: e.cost.add(new Cost(FILTER_COST.node)), size: SCALAR };
    }
    case "comprehension":
      return estimateComprehension(a as Comprehension, sc, ctx);
    case "call":
    case "rcall":
      return estimateCall(n, sc, ctx);
    case "list":
    case "map": {
      const parts = childNodes(n).map((c) => estimateNode(c, sc, ctx));
      const cost = new Cost(FILTER_COST.node);
      let item: Size | undefined;
      parts.forEach((p, i) => {
        cost.add(p.cost);
        if (n.op === "list" || i % 2 === 1) item = item ? join(item, p.size) : p.size;
      });
      const count = n.op === "list" ? parts.length : parts.length / 2;
      return { cost, size: item ? { str: 0, list: count, item } : { str: 0, list: count } };
    }
    default: {
      const parts = childNodes(n).map((c) => estimateNode(c, sc, ctx));
      const cost = new Cost(FILTER_COST.node);
      for (const p of parts) cost.add(p.cost);
      if ((n.op === "||" || n.op === "&&") && mayFail(childNodes(n)[0]!)) cost.fixed += FILTER_COST.error;
      return {
        cost,
        size: estimateOperator(
          n.op,
          parts.map((p) => p.size),
          cost,
        ),
      };
    }
  }
}

/** The size an operator produces; adds the work that grows with its operands to `cost`. */
function estimateOperator(op: string, sizes: Size[], cost: Cost): Size {
  const [l = SCALAR, r = SCALAR] = sizes;
  switch (op) {
    case ".":
    case ".?":
    case "[]":
    case "[?]":
      return field(l);
    case "?:":
      return join(sizes[1]!, sizes[2]!);
    case "+": {
      // strings: the produced length; lists: the produced elements; a `dyn` + `dyn` may be either
      cost.sized(l.str * FILTER_COST.char, l).sized(r.str * FILTER_COST.char, r);
      cost.sized(l.list * FILTER_COST.element, l).sized(r.list * FILTER_COST.element, r);
      const owners = sharedOwners(l, r);
      const out: Size = { str: Math.min(l.str + r.str, MAX_PRODUCED_STRING), list: Math.min(l.list + r.list, MAX_PRODUCED_LIST) };
      if (l.disjoint || r.disjoint) {
        const tl = totals(l);
        const tr = totals(r);
        out.str = Math.min(tl.str + tr.str, MAX_PRODUCED_STRING);
        out.list = Math.min(tl.list + tr.list, MAX_PRODUCED_LIST);
        out.disjoint = true;
      } else if (l.item || r.item) out.item = join(l.item ?? SCALAR, r.item ?? SCALAR);
      if (owners) out.owners = owners;
      return out;
    }
    case "==":
    case "!=":
    case "<":
    case "<=":
    case ">":
    case ">=":
      // comparing stops at the shorter side: count it with the bound that is not amortized, if either is not
      cost.sized(Math.min(compareCost(l), compareCost(r)), !l.owners ? l : !r.owners ? r : compareCost(l) <= compareCost(r) ? l : r);
      return SCALAR;
    case "in":
      cost.sized(deepCost(r), r);
      if (l.list || l.str) cost.sized(r.list * FILTER_COST.element, r);
      return SCALAR;
    default:
      return SCALAR;
  }
}

/** A comprehension: its body's cost times the bound of its range, less what is amortized over the loop. */
function estimateComprehension(c: Comprehension, sc: Scope, ctx: EstimateContext): Estimate {
  const range = estimateNode(c.iterable, sc, ctx);
  const init = estimateNode(c.init, sc, ctx);
  const id = ++ctx.loops;
  const r = range.size;
  const element = r.disjoint ? { str: r.str, list: r.list, disjoint: true, owners: [...(r.owners ?? []), id] } : (r.item ?? SCALAR);
  const outer = ctx.pushed;
  ctx.pushed = [];
  const body = estimateNode(c.step, new Map(sc).set(c.iterVarName, element), ctx);
  const pushedHere = ctx.pushed;
  ctx.pushed = outer;
  let perIteration = FILTER_COST.iteration + body.cost.fixed;
  if (c.kind === "quantifier" && !c.errorsAreFatal && mayFail(c.step)) perIteration += FILTER_COST.error;
  const cost = new Cost(FILTER_COST.node).add(range.cost).add(init.cost);
  cost.term(r.list * perIteration, r.owners);
  // a map's keys are enumerated before the loop starts
  if (resolveNode(c.iterable).checkedType?.kind !== "list") cost.term(r.list * FILTER_COST.entry, r.owners);
  for (const t of body.cost.terms) {
    if (t.owners.includes(id))
      cost.term(
        t.cost,
        t.owners.filter((o) => o !== id),
      );
    else cost.term(t.cost * r.list, t.owners);
  }
  if (c.kind === "quantifier") return { cost, size: SCALAR };
  const isFilter = resolveNode(c.step).op === "?:" && pushedHere.length === 1 && pushedHere[0] === element;
  if (isFilter) return { cost, size: r };
  const item = pushedHere.reduce<Size | undefined>((acc, s) => (acc ? join(acc, release(s, id)) : release(s, id)), undefined);
  return { cost, size: item ? { str: 0, list: r.list, item } : { str: 0, list: r.list } };
}

/** A function call: string functions cost in proportion to their strings. */
function estimateCall(n: CelNode, sc: Scope, ctx: EstimateContext): Estimate {
  const name = (n.args as [string])[0];
  const argNodes = childNodes(n);
  const parts = argNodes.map((c) => estimateNode(c, sc, ctx));
  const cost = new Cost(FILTER_COST.node);
  for (const p of parts) cost.add(p.cost);
  const sizes = parts.map((p) => p.size);
  const [s = SCALAR, t = SCALAR] = sizes; // receiver (or first argument), second
  const scan = (size: Size) => cost.sized(size.str * FILTER_COST.char, size);
  switch (name) {
    case "size":
      cost.sized(s.str * FILTER_COST.codePoint, s).sized(s.list * FILTER_COST.entry, s);
      return { cost, size: SCALAR };
    case "contains":
    case "startsWith":
    case "endsWith":
    case "indexOf":
    case "lastIndexOf":
      scan(s);
      scan(t);
      return { cost, size: SCALAR };
    case "lowerAscii":
    case "upperAscii":
    case "trim":
    case "substring":
    case "bytes":
    case "hex":
    case "base64":
    case "string":
      scan(s);
      cost.sized(s.str * FILTER_COST.char, s); // reading and writing
      return { cost, size: str(name === "hex" || name === "base64" ? s.str * 2 : s.str, s.owners) };
    case "int":
    case "uint":
    case "double":
    case "bool":
      scan(s);
      return { cost, size: SCALAR };
    case "json":
      cost.sized(s.str * FILTER_COST.jsonByte, s);
      return { cost, size: { str: s.str, list: s.str, disjoint: true, ...(s.owners ? { owners: s.owners } : {}) } };
    case "split": {
      scan(s);
      cost.sized((s.str + 1) * FILTER_COST.element, s);
      const list = Math.min(s.str + 1, MAX_PRODUCED_LIST);
      return { cost, size: { str: s.str, list, disjoint: true, ...(s.owners ? { owners: s.owners } : {}) } };
    }
    case "join": {
      const items = field(s);
      const chars = s.disjoint ? items.str : s.list * items.str;
      const length = Math.min(chars + Math.max(0, s.list - 1) * t.str, MAX_PRODUCED_STRING);
      cost.sized(s.list * FILTER_COST.element + length * FILTER_COST.char, s);
      return { cost, size: str(length, s.owners) };
    }
    case "matches": {
      const pattern = argNodes[1] ? resolveNode(argNodes[1]) : undefined;
      if (pattern?.op === "value" && typeof pattern.args === "string") {
        cost.sized(s.str * regexCharCost(ctx.options.regexInstructions(pattern.args)), s);
      } else {
        // a pattern from the event: compiled (and cached) at run time; its program grows with its length
        const patternLength = Math.min(t.str, MAX_DYNAMIC_PATTERN);
        cost.fixed += patternLength * FILTER_COST.regexCompileChar;
        cost.sized(s.str * regexCharCost(patternLength * 4), s);
      }
      return { cost, size: SCALAR };
    }
    default:
      return { cost, size: SCALAR };
  }
}
