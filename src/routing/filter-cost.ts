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

/** The parts of a cel-js 8 AST node that the cost model and the guard read (cel-js exports no AST types). */
export interface CelNode {
  op: string;
  args: unknown;
  /** Offset of the node in the source. */
  pos?: number;
  checkedType?: { name: string; kind: string };
  readonly meta: { alternate?: CelNode; macro?: CelMacro; evaluate?: EvaluateFn };
  evaluate: EvaluateFn;
  left?: CelNode;
  right?: CelNode;
  receiverWithArgs?: CelNode[];
  handle?: (...args: unknown[]) => unknown;
}
export type EvaluateFn = (ev: unknown, ast: CelNode, ctx: unknown) => unknown;
/** `cel.bind` (var, val, exp) and `has` (macroHasProps) expand to macros that evaluate themselves. */
export interface CelMacro {
  var?: string;
  val?: CelNode;
  exp?: CelNode;
  macroHasProps?: CelNode[];
  evaluate: EvaluateFn;
}
/** The arguments of a comprehension node (all, exists, exists_one, map, filter). */
export interface Comprehension {
  kind?: string;
  errorsAreFatal: boolean;
  iterable: CelNode;
  iterVarName: string;
  init: CelNode;
  step: CelNode;
  condition?: (accu: unknown) => boolean;
}

const BINARY = new Set(["==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%"]);

/** The node that evaluates for `node`: macros such as `all` or `map` expand to an alternate comprehension node. */
export function resolveNode(node: CelNode): CelNode {
  let n = node;
  while (n.meta.alternate) n = n.meta.alternate;
  return n;
}

/**
 * The AST nodes evaluated once each time `node` is, in evaluation order: a comprehension's step is left out (it
 * runs once per element) and so are `has()`'s field names (read without evaluating them).
 * @throws Error on a node kind this module does not know, so that a newer cel-js fails closed.
 */
export function childNodes(node: CelNode): CelNode[] {
  const n = resolveNode(node);
  const macro = n.meta.macro;
  if (macro) return macro.val && macro.exp ? [macro.val, macro.exp] : [];
  const a = n.args as never;
  switch (n.op) {
    case "value":
    case "id":
    case "accuValue":
    case "accuInc":
      return [];
    case ".":
    case ".?":
      return [(a as CelNode[])[0]!];
    case "[]":
    case "[?]":
    case "?:":
    case "||":
    case "&&":
    case "list":
      return a as CelNode[];
    case "map":
      return (a as CelNode[][]).flat();
    case "!_":
    case "-_":
    case "accuPush":
      return [a as CelNode];
    case "call":
      return (a as [string, CelNode[]])[1];
    case "rcall":
      return [(a as [string, CelNode, CelNode[]])[1], ...(a as [string, CelNode, CelNode[]])[2]];
    case "comprehension":
      return [(a as Comprehension).iterable, (a as Comprehension).init];
    default:
      if (BINARY.has(n.op)) return a as CelNode[];
      throw new Error(`unsupported CEL construct: ${n.op}`);
  }
}

/** Nodes evaluated per evaluation of `node`, its own included; steps of nested comprehensions excluded. */
export function countNodes(node: CelNode): number {
  const n = resolveNode(node);
  const props = n.meta.macro?.macroHasProps;
  if (props) return props.length;
  let count = 1;
  for (const child of childNodes(n)) count += countNodes(child);
  return count;
}

/** The cost of a `matches` call per character of its subject, for a program of `instructions` instructions. */
export function regexCharCost(instructions: number): number {
  return FILTER_COST.regexChar + instructions * FILTER_COST.regexInstruction;
}

// --- the static estimate -------------------------------------------------------------------------------------------

interface Size {
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
interface Term {
  cost: number;
  owners: readonly number[];
}

class Cost {
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

interface Estimate {
  cost: Cost;
  size: Size;
}

const SCALAR: Size = Object.freeze({ str: 0, list: 0 });

function str(n: number, owners?: readonly number[]): Size {
  return owners?.length ? { str: Math.min(n, MAX_PRODUCED_STRING), list: 0, owners } : { str: Math.min(n, MAX_PRODUCED_STRING), list: 0 };
}

function field(s: Size): Size {
  if (s.disjoint) return { str: s.str, list: s.list, disjoint: true, ...(s.owners ? { owners: s.owners } : {}) };
  return s.item ?? SCALAR;
}

function sharedOwners(a: Size, b: Size): readonly number[] | undefined {
  if (!a.owners || !b.owners) return undefined;
  const shared = a.owners.filter((o) => b.owners!.includes(o));
  return shared.length ? shared : undefined;
}

/** Everything inside a value, nested elements included: the bounds of a disjoint value. */
function totals(s: Size): { str: number; list: number } {
  if (s.disjoint || !s.item) return { str: s.str, list: s.list };
  const inner = totals(s.item);
  return { str: s.str + s.list * inner.str, list: s.list + s.list * inner.list };
}

/** A size that bounds both. */
function join(a: Size, b: Size): Size {
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
function release(s: Size, id: number): Size {
  const owners = s.owners?.filter((o) => o !== id);
  const out: Size = { str: s.str, list: s.list };
  if (s.disjoint) out.disjoint = true;
  if (s.item) out.item = release(s.item, id);
  if (owners?.length) out.owners = owners;
  return out;
}

/** Upper bound on the work of comparing or hashing a value of this size, element by element. */
function deepCost(s: Size): number {
  const own = s.list * FILTER_COST.entry + s.str * FILTER_COST.char;
  return s.disjoint || !s.item ? own : own + s.list * deepCost(s.item);
}

/** Upper bound on the work of comparing a value of this size with another. */
function compareCost(s: Size): number {
  const t = totals(s);
  return t.list * FILTER_COST.entry + t.str * FILTER_COST.compareChar;
}

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
export const SMALLEST_EVENT: EventSizes = Object.freeze({ string: 0, list: 0, topic: 0, id: 0, type: 0, source: 0, subject: 0, key: 0, attributeCount: 0, attributeValue: 0 });

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
  const scope = new Map<string, Size>();
  for (const [name, fieldName] of Object.entries(options.variables)) scope.set(name, roots[fieldName]!);
  let loops = 0;
  /** Sizes pushed onto the accumulator of the innermost `map`/`filter`. */
  let pushed: Size[] = [];

  const estimate = (node: CelNode, sc: Map<string, Size>): Estimate => {
    const n = resolveNode(node);
    const macro = n.meta.macro;
    if (macro?.val && macro.exp && macro.var) {
      const val = estimate(macro.val, sc);
      const exp = estimate(macro.exp, new Map(sc).set(macro.var, val.size));
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
        const e = estimate(a as CelNode, sc);
        pushed.push(e.size);
        return { cost: e.cost.add(new Cost(FILTER_COST.node)), size: SCALAR };
      }
      case "comprehension":
        return comprehension(a as Comprehension, sc);
      case "call":
      case "rcall":
        return call(n, sc);
      case "list":
      case "map": {
        const parts = childNodes(n).map((c) => estimate(c, sc));
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
        const parts = childNodes(n).map((c) => estimate(c, sc));
        const cost = new Cost(FILTER_COST.node);
        for (const p of parts) cost.add(p.cost);
        if ((n.op === "||" || n.op === "&&") && mayFail(childNodes(n)[0]!)) cost.fixed += FILTER_COST.error;
        return { cost, size: operator(n.op, parts.map((p) => p.size), cost) };
      }
    }
  };

  const operator = (op: string, sizes: Size[], cost: Cost): Size => {
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
  };

  const comprehension = (c: Comprehension, sc: Map<string, Size>): Estimate => {
    const range = estimate(c.iterable, sc);
    const init = estimate(c.init, sc);
    const id = ++loops;
    const r = range.size;
    const element = r.disjoint ? { str: r.str, list: r.list, disjoint: true, owners: [...(r.owners ?? []), id] } : (r.item ?? SCALAR);
    const outer = pushed;
    pushed = [];
    const body = estimate(c.step, new Map(sc).set(c.iterVarName, element));
    const pushedHere = pushed;
    pushed = outer;
    let perIteration = FILTER_COST.iteration + body.cost.fixed;
    if (c.kind === "quantifier" && !c.errorsAreFatal && mayFail(c.step)) perIteration += FILTER_COST.error;
    const cost = new Cost(FILTER_COST.node).add(range.cost).add(init.cost);
    cost.term(r.list * perIteration, r.owners);
    // a map's keys are enumerated before the loop starts
    if (resolveNode(c.iterable).checkedType?.kind !== "list") cost.term(r.list * FILTER_COST.entry, r.owners);
    for (const t of body.cost.terms) {
      if (t.owners.includes(id)) cost.term(t.cost, t.owners.filter((o) => o !== id));
      else cost.term(t.cost * r.list, t.owners);
    }
    if (c.kind === "quantifier") return { cost, size: SCALAR };
    const isFilter = resolveNode(c.step).op === "?:" && pushedHere.length === 1 && pushedHere[0] === element;
    if (isFilter) return { cost, size: r };
    const item = pushedHere.reduce<Size | undefined>((acc, s) => (acc ? join(acc, release(s, id)) : release(s, id)), undefined);
    return { cost, size: item ? { str: 0, list: r.list, item } : { str: 0, list: r.list } };
  };

  const call = (n: CelNode, sc: Map<string, Size>): Estimate => {
    const name = (n.args as [string])[0];
    const argNodes = childNodes(n);
    const parts = argNodes.map((c) => estimate(c, sc));
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
          cost.sized(s.str * regexCharCost(options.regexInstructions(pattern.args)), s);
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
  };

  return estimate(ast, scope).cost.total();
}

/** Whether evaluating `node` may raise an error (a missing field, a wrong type, a failed conversion). */
export function mayFail(node: CelNode): boolean {
  const n = resolveNode(node);
  if (n.meta.macro) return true;
  switch (n.op) {
    case "value":
    case "id":
    case "accuValue":
    case "accuInc":
      return false;
    case "<":
    case "<=":
    case ">":
    case ">=":
      // between statically typed operands the overload is resolved at compile time
      return childNodes(n).some((c) => mayFail(c) || (resolveNode(c).checkedType?.name ?? "dyn").includes("dyn"));
    case "?:":
    case "||":
    case "&&":
    case "!_": {
      // a condition or operand that is not statically a bool may fail at run time
      const operands = n.op === "?:" ? [childNodes(n)[0]!] : childNodes(n);
      return childNodes(n).some(mayFail) || operands.some((c) => resolveNode(c).checkedType?.name !== "bool");
    }
    case "==":
    case "!=":
    case "list":
    case "map":
    case "accuPush":
      return childNodes(n).some(mayFail);
    case "comprehension": {
      const c = n.args as Comprehension;
      return mayFail(c.iterable) || c.iterable.op !== "list" || mayFail(c.step);
    }
    default:
      return true;
  }
}
