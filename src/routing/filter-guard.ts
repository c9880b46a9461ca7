import type { RE2JS } from "re2js";
import { childNodes, countNodes, resolveNode, type CelNode, type Comprehension, type EvaluateFn } from "./cel-ast.js";
import { charge, chargeSwallowedError, spendIteration, stop, WRONG_TYPE } from "./evaluation-budget.js";
import { FILTER_COST, MAX_DYNAMIC_PATTERN, MAX_PRODUCED_LIST, MAX_PRODUCED_STRING, regexCharCost } from "./filter-cost.js";
import { chargeComparison, chargeDeep, checkProduced, PRICING, type Pricing } from "./filter-pricing.js";
import { compileRegex } from "./filter-regex.js";
import { chargeKeys, isPlainObject } from "./json-object-keys.js";

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
 * - the keys of a JSON object are enumerated once per object and charged at each use (`json-object-keys.ts`);
 * - `matches` runs on RE2 (re2js, a pure-JS port: linear time, no backreferences or lookaround).
 * The budget itself is in `evaluation-budget.ts`, the pricing of functions in `filter-pricing.ts`.
 */

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
    chargeSwallowedError(error);
    return error;
  }
};

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
      c.condition = condition ? (accu) => (spendIteration(perIteration) ? condition(accu) : false) : () => spendIteration(perIteration);
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
