import { RE2JS } from "re2js";
import { childNodes, countNodes, resolveNode, type CelNode, type Comprehension, type EvaluateFn } from "./cel-ast.js";
import { FILTER_COST, MAX_DYNAMIC_PATTERN, MAX_PRODUCED_LIST, MAX_PRODUCED_STRING, regexCharCost } from "./filter-cost.js";

/**
 * The runtime budget of filter evaluations, and linear-time `matches`.
 *
 * cel-js 8 has no step hook and no way to replace a built-in overload, so after type-checking, {@link guardAst}
 * rewires a few nodes of each filter's own AST (cel-js evaluates a node through its `evaluate` property):
 * - each comprehension's loop condition charges its iterations as they run, and ends the loop once the budget is
 *   spent, so a loop over a huge list stops at once instead of running on;
 * - each node whose errors cel-js swallows (a step of `all`/`exists`, the left side of `||`/`&&`) charges the
 *   error: a thrown error costs about as much as 300 nodes;
 * - functions and operators whose work grows with their input (string functions, `split`, `join`, `+`, `==` on
 *   strings, lists or maps, `in`, `size`) charge in proportion to it before they run, and refuse to produce a string
 *   or list longer than the caps;
 * - the keys of a JSON object are enumerated once per object and charged at each use ({@link protectEvaluator});
 * - `matches` runs on RE2 (re2js, a pure-JS port: linear time, no backreferences or lookaround).
 * The state is module-wide: evaluations are synchronous and never nested.
 */

let remaining = 0;
let failed = false;

/** Thrown to abort an operation over the budget or the caps; one instance, so that throwing it allocates nothing. */
const STOP = new Error("filter evaluation over its budget");
/** Thrown for a wrong operand type in a guarded operation (cel-js would raise its own error there). */
const WRONG_TYPE = new Error("filter evaluation: no such overload");

/** Starts the budget of one evaluation. */
export function startBudget(units: number): void {
  remaining = units;
  failed = false;
}

/** Whether the evaluation just run went over its budget or a cap: then it does not match, whatever it returned. */
export function budgetExceeded(): boolean {
  return failed;
}

function charge(units: number): void {
  if ((remaining -= units) < 0) {
    failed = true;
    throw STOP;
  }
}

function stop(): never {
  failed = true;
  throw STOP;
}

// --- RE2 ---------------------------------------------------------------------------------------------------------

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

// --- AST rewiring ------------------------------------------------------------------------------------------------

type Wrapper = (inner: EvaluateFn, ev: Evaluator, ast: CelNode, ctx: unknown) => unknown;
interface Evaluator {
  run(ast: CelNode, ctx: unknown): unknown;
}

/** Replaces how `node` evaluates; `inner` is what it did before. */
function wrap(node: CelNode, wrapper: Wrapper): void {
  const n = resolveNode(node);
  const macro = n.meta.macro;
  if (macro) {
    const inner = macro.evaluate;
    macro.evaluate = (ev, ast, ctx) => wrapper(inner, ev as Evaluator, ast, ctx);
    return;
  }
  const inner = n.meta.evaluate;
  if (typeof inner !== "function") throw new Error(`cannot guard CEL node ${n.op}`);
  n.evaluate = (ev, ast, ctx) => wrapper(inner, ev as Evaluator, ast, ctx);
}

/**
 * Counts an error that cel-js is about to swallow. Only for nodes that cel-js evaluates through `tryEval` (which
 * turns a thrown error into a returned one): returning the error spares a second throw, the costly part.
 */
const chargeErrors: Wrapper = (inner, ev, ast, ctx) => {
  try {
    return inner(ev, ast, ctx);
  } catch (error) {
    if (error !== STOP && (remaining -= FILTER_COST.error) < 0) failed = true;
    return error;
  }
};

// --- JSON objects ------------------------------------------------------------------------------------------------

/** A map from JSON (cel-js also takes `Map`s, which know their size). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
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
function chargeKeys(o: object): string[] {
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
function chargeDeep(v: unknown, perChar: number): void {
  if (typeof v === "string") return charge(v.length * perChar);
  if (v === null || typeof v !== "object") return;
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x === "string") charge(x.length * perChar);
    else if (x !== null && typeof x === "object") {
      if (Array.isArray(x)) {
        charge(x.length * FILTER_COST.element);
        for (const e of x) if (e !== null && typeof e === "object") stack.push(e);
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

function chargeComparison(l: unknown, r: unknown): void {
  if (typeof l === "string") {
    // V8 compares lengths first; equal lengths compare character by character
    if (typeof r === "string" && l.length === r.length) charge(l.length * FILTER_COST.compareChar);
  } else if (l !== null && typeof l === "object" && r !== null && typeof r === "object") {
    chargeDeep(sizeOf(l) <= sizeOf(r) ? l : r, FILTER_COST.compareChar);
  }
}

const guardBinary =
  (op: string): Wrapper =>
  (_inner, ev, ast, ctx) => {
    const l = ev.run(ast.left!, ctx);
    const r = ev.run(ast.right!, ctx);
    if (op === "+") {
      if (typeof l === "string" && typeof r === "string") {
        const length = l.length + r.length;
        if (length > MAX_PRODUCED_STRING) stop();
        charge(length * FILTER_COST.char);
      } else if (Array.isArray(l) && Array.isArray(r)) {
        const length = l.length + r.length;
        if (length > MAX_PRODUCED_LIST) stop();
        charge(length * FILTER_COST.element);
      } else if (l instanceof Uint8Array && r instanceof Uint8Array) {
        const length = l.length + r.length;
        if (length > MAX_PRODUCED_STRING) stop();
        charge(length * FILTER_COST.char);
      }
    } else if (op === "in") {
      if (Array.isArray(r) || r instanceof Set) chargeDeep(r, FILTER_COST.char);
    } else {
      chargeComparison(l, r);
    }
    return (ast.handle as (l: unknown, r: unknown, ast: CelNode, ev: unknown) => unknown)(l, r, ast, ev);
  };

function checkProduced(out: unknown): unknown {
  if (typeof out === "string" || out instanceof Uint8Array) {
    if (out.length > MAX_PRODUCED_STRING) stop();
  } else if (Array.isArray(out) && out.length > MAX_PRODUCED_LIST) stop();
  return out;
}

/** What a guarded function charges before it runs, given its receiver (or first argument) and arguments. */
type Pricing = (args: unknown[]) => void;

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

const PRICING: Record<string, Pricing> = {
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

function guardCall(name: string, pricing: Pricing, receiver: boolean): Wrapper {
  return (_inner, ev, ast, ctx) => {
    const nodes = receiver ? ast.receiverWithArgs! : (ast.args as [string, CelNode[]])[1];
    const args = new Array<unknown>(nodes.length);
    for (let i = 0; i < nodes.length; i++) args[i] = ev.run(nodes[i]!, ctx);
    if (name === "size" && isPlainObject(args[0])) return BigInt(chargeKeys(args[0]).length);
    pricing(args);
    const handle = ast.handle as (...a: unknown[]) => unknown;
    const out = receiver ? handle(args, ev, ast) : handle(args, ast, ev);
    return name === "size" || name === "contains" ? out : checkProduced(out);
  };
}

/** `string.matches(pattern)` on RE2: found anywhere in the string, as CEL specifies. */
function guardMatches(literal: RE2JS | undefined): Wrapper {
  const perChar = literal ? regexCharCost(literal.programSize()) : 0;
  return (_inner, ev, ast, ctx) => {
    const nodes = ast.receiverWithArgs!;
    const subject = ev.run(nodes[0]!, ctx);
    if (typeof subject !== "string") throw WRONG_TYPE;
    if (literal) {
      charge(subject.length * perChar);
      return literal.test(subject);
    }
    const pattern = ev.run(nodes[1]!, ctx);
    if (typeof pattern !== "string" || pattern.length > MAX_DYNAMIC_PATTERN) throw WRONG_TYPE;
    charge(pattern.length * FILTER_COST.regexCompileChar);
    const re = compileRegex(pattern);
    charge(subject.length * regexCharCost(re.programSize()));
    return re.test(subject);
  };
}

const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">="]);
const SCALAR_TYPES = new Set(["int", "uint", "double", "bool", "null", "google.protobuf.Timestamp", "google.protobuf.Duration", "type"]);
const SHORT_LITERAL = 256;

function isScalar(node: CelNode): boolean {
  return SCALAR_TYPES.has(node.checkedType?.name ?? "");
}

function isShortLiteral(node: CelNode): boolean {
  return node.op === "value" && (typeof node.args !== "string" || node.args.length <= SHORT_LITERAL) && !(node.args instanceof Uint8Array);
}

function name(node: CelNode): string {
  return (node.args as [string])[0];
}

/**
 * Rewires a type-checked filter AST so that its evaluation charges the runtime budget and respects the caps, and
 * `matches` runs on RE2. Literal patterns are compiled here.
 * @throws Error with RE2's message for an invalid literal pattern, or on a node kind this module does not know.
 */
export function guardAst(root: CelNode): void {
  const seen = new WeakSet<CelNode>();
  const visit = (node: CelNode): void => {
    const n = resolveNode(node);
    if (seen.has(n)) return;
    seen.add(n);
    const macro = n.meta.macro;
    if (macro?.macroHasProps) return; // has(): reads fields, evaluates nothing
    if (n.op === "comprehension") {
      const c = n.args as Comprehension;
      const perIteration = FILTER_COST.iteration + countNodes(c.step) * FILTER_COST.node;
      const condition = c.condition;
      // Charged per iteration as the loop runs: an `exists` that finds its element early pays only for what it ran.
      c.condition = condition
        ? (accu) => ((remaining -= perIteration) < 0 ? !(failed = true) : condition(accu))
        : () => ((remaining -= perIteration) < 0 ? !(failed = true) : true);
      if (c.kind === "quantifier" && !c.errorsAreFatal) wrap(c.step, chargeErrors);
      // a loop over a map: its keys, charged and enumerated once per object
      wrap(n, (_inner, ev, ast, ctx) => {
        const args = ast.args as Comprehension;
        const items = ev.run(args.iterable, ctx);
        return (ast.handle as (...a: unknown[]) => unknown)(isPlainObject(items) ? chargeKeys(items) : items, args, ev, ctx);
      });
      visit(c.step);
    } else if (n.op === "||" || n.op === "&&") {
      wrap(childNodes(n)[0]!, chargeErrors);
    } else if (n.op === "+" || n.op === "in" || COMPARISONS.has(n.op)) {
      const [l, r] = childNodes(n).map(resolveNode) as [CelNode, CelNode];
      // A comparison with a short literal costs at most the literal's length: the common case stays unwrapped.
      const cheap = COMPARISONS.has(n.op) && (isShortLiteral(l) || isShortLiteral(r));
      if (!cheap && !(isScalar(l) && isScalar(r))) wrap(n, guardBinary(n.op));
    } else if (n.op === "rcall" && (name(n) === "startsWith" || name(n) === "endsWith") && isShortLiteral(resolveNode(childNodes(n)[1]!))) {
      // O(length of the literal)
    } else if (n.op === "rcall" || n.op === "call") {
      const fn = name(n);
      if (fn === "matches" && n.op === "rcall") {
        const pattern = resolveNode(childNodes(n)[1]!);
        let literal: RE2JS | undefined;
        if (pattern.op === "value" && typeof pattern.args === "string") {
          try {
            literal = compileRegex(pattern.args);
          } catch (error) {
            throw Object.assign(new Error(`matches(): the pattern is not valid RE2: ${(error as Error).message}`), { pos: pattern.pos });
          }
        }
        wrap(n, guardMatches(literal));
      } else if (PRICING[fn] && !macro) {
        wrap(n, guardCall(fn, PRICING[fn], n.op === "rcall"));
      }
    }
    for (const child of childNodes(n)) visit(child);
  };
  visit(root);
}
