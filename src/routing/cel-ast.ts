/**
 * The parts of cel-js 8's AST that the cost model (`estimate-filter-cost.ts`) and the runtime guard
 * (`filter-guard.ts`) read, and the walks over it they share.
 */

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
