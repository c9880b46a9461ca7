import { HubError } from "../errors.js";
import { MAX_FILTER_LENGTH } from "./filter.js";
import { refuse, tokenize } from "./switch-filter-lexer.js";
import { Parser, type Node } from "./switch-filter-parser.js";

/**
 * switch's filters (Python boolean expressions over `data`, a dict of the publish request) translated to CEL with
 * the same meaning, so that a subscription can keep them (`filter_syntax: "switch"`).
 *
 * - `data["body"]` is the event's data (`data` in CEL), `data["headers"]` the captured request headers (`headers`,
 *   lower-case names; a string key under it is lower-cased). No other key of switch's `data` exists here.
 * - `and`, `or`, `not` and conditional expressions keep Python's left-to-right short circuit and truthiness: `a and
 *   b` is `a ? b : false` (not `a && b`, which would absorb an error on the left), and a value used as a condition is
 *   true unless it is None, False, 0, "", [] or {}.
 * - A missing key raises in Python and fails the evaluation in CEL: the event does not match, as any failed filter.
 * - Numbers are CEL doubles, as JSON numbers are; list indexes stay integers.
 * Anything else (calls, attribute access, slicing, lambdas, comprehensions, arithmetic, `**`, dict literals) has no
 * translation and is refused with `SB_FILTER_INVALID`, naming the construct and where it is.
 */

/**
 * Translates a switch filter to a CEL filter of the same meaning.
 * @throws HubError `SB_FILTER_INVALID` naming the construct that has no translation (or the syntax error) and
 *   showing where it is.
 * @example translateSwitchFilter('data["body"]["x"] == 1 and data["headers"]["y"] == "z"')
 *   // '((data["x"] == 1.0) ? (headers["y"] == "z") : false)'
 */
export function translateSwitchFilter(source: string): string {
  if (typeof source !== "string" || source.trim() === "") throw new HubError("SB_FILTER_INVALID", "the filter is empty");
  if (source.length > MAX_FILTER_LENGTH) {
    throw new HubError("SB_FILTER_INVALID", `the filter has ${source.length} characters; at most ${MAX_FILTER_LENGTH} are allowed`);
  }
  const tokens = tokenize(source);
  const parser = new Parser(source, tokens);
  const ast = parser.parseAll();
  const cel = new Translator(source).bool(ast);
  if (cel.length > MAX_FILTER_LENGTH) {
    throw new HubError("SB_FILTER_INVALID", `the filter's translation to CEL has ${cel.length} characters; at most ${MAX_FILTER_LENGTH} are allowed`);
  }
  return cel;
}

/** Whether the node is `data["headers"]` (a map of strings, known before any event). */
function isHeaders(n: Node): boolean {
  return n.k === "sub" && n.obj.k === "data" && n.index.k === "str" && n.index.v === "headers";
}

/** Nodes whose Python value is always a bool (or which raise). */
function isBoolTyped(n: Node): boolean {
  switch (n.k) {
    case "bool":
    case "not":
    case "cmp":
      return true;
    case "and":
    case "or":
      return isBoolTyped(n.a) && isBoolTyped(n.b);
    case "cond":
      return isBoolTyped(n.then) && isBoolTyped(n.else);
    default:
      return false;
  }
}

class Translator {
  /** Depth of `cel.bind` variables, so that nested ones get their own names. */
  private binds = 0;
  constructor(private readonly src: string) {}

  /** The node as a CEL bool with Python's truthiness. */
  bool(n: Node): string {
    switch (n.k) {
      case "bool":
        return String(n.v);
      case "none":
        return "false";
      case "num":
        return String(n.v !== 0);
      case "str":
        return String(n.v !== "");
      case "list":
        return n.items.length === 0 ? "false" : `size(${this.value(n)}) > 0`;
      case "and":
        return `(${this.bool(n.a)} ? ${this.bool(n.b)} : false)`;
      case "or":
        return `(${this.bool(n.a)} ? true : ${this.bool(n.b)})`;
      case "not":
        return `!(${this.bool(n.a)})`;
      case "cond":
        return `(${this.bool(n.cond)} ? ${this.bool(n.then)} : ${this.bool(n.else)})`;
      case "cmp":
        return this.comparison(n);
      case "data":
      case "sub": {
        const v = `_v${++this.binds}`;
        const value = this.value(n);
        this.binds--;
        return `cel.bind(${v}, ${value}, ${v} != null && ${v} != false && ${v} != 0.0 && ${v} != "" && ${v} != [] && ${v} != {})`;
      }
    }
  }

  /** The node as a CEL value. */
  value(n: Node): string {
    switch (n.k) {
      case "bool":
        return String(n.v);
      case "none":
        return "null";
      case "num":
        return double(n.v);
      case "str":
        return JSON.stringify(n.v);
      case "list":
        return `[${n.items.map((i) => this.value(i)).join(", ")}]`;
      case "not":
      case "cmp":
        return this.bool(n);
      case "and":
      case "or":
        if (isBoolTyped(n)) return this.bool(n);
        throw refuse(this.src, n.at, `the value of ${n.k} (an operand, not a bool) has no translation; use it as a condition only`);
      case "cond":
        return `(${this.bool(n.cond)} ? ${this.value(n.then)} : ${this.value(n.else)})`;
      case "data":
        throw refuse(this.src, n.at, 'data alone has no translation: use data["body"] (the event\'s data) or data["headers"]');
      case "sub":
        return this.subscript(n);
    }
  }

  private subscript(n: Extract<Node, { k: "sub" }>): string {
    if (n.obj.k === "data") {
      if (n.index.k !== "str") throw refuse(this.src, n.index.at, 'data takes "body" or "headers" here, as a string literal');
      if (n.index.v === "body") return "data";
      if (n.index.v === "headers") return "headers";
      throw refuse(
        this.src,
        n.index.at,
        `data[${JSON.stringify(n.index.v)}] has no translation: only data["body"] (the event's data) and data["headers"] (the captured request headers) exist`,
      );
    }
    const obj = this.value(n.obj);
    const headers = isHeaders(n.obj);
    const index = n.index;
    if (index.k === "str") return `${obj}[${JSON.stringify(headers ? index.v.toLowerCase() : index.v)}]`;
    if (index.k === "num") {
      if (!index.int || !Number.isSafeInteger(index.v)) throw refuse(this.src, index.at, "an index must be a whole number");
      if (index.v < 0) throw refuse(this.src, index.at, "a negative index (from the end) has no translation");
      return `${obj}[${index.v}]`;
    }
    if (index.k === "bool" || index.k === "none" || index.k === "list") throw refuse(this.src, index.at, "this index has no translation");
    return `${obj}[${this.value(index)}]`;
  }

  private comparison(n: Extract<Node, { k: "cmp" }>): string {
    const pairs = n.ops.map(({ op, at }, i) => `(${this.pair(op, at, n.operands[i]!, n.operands[i + 1]!)})`);
    // Python's chain `a < b < c` is `a < b and b < c`, with its short circuit.
    return pairs.reduceRight((rest, pair) => `(${pair} ? ${rest} : false)`);
  }

  private pair(op: string, at: number, left: Node, right: Node): string {
    if (op === "is" || op === "is not") {
      const singleton = right.k === "none" || right.k === "bool" ? right : left.k === "none" || left.k === "bool" ? left : undefined;
      if (!singleton) throw refuse(this.src, at, `${op} with anything but None, True or False has no translation; use ${op === "is" ? "==" : "!="}`);
      return `${this.value(left)} ${op === "is" ? "==" : "!="} ${this.value(right)}`;
    }
    if (op === "in" || op === "not in") {
      const l = this.value(left);
      let test: string;
      if (right.k === "str") test = `${JSON.stringify(right.v)}.contains(${l})`;
      else if (right.k === "list" || isHeaders(right)) test = `${l} in ${this.value(right)}`;
      else {
        // Python's `in` is a substring test on a string, membership on a list, a key test on a dict.
        const v = `_r${++this.binds}`;
        const r = this.value(right);
        test = `cel.bind(${v}, ${r}, type(${v}) == string ? ${v}.contains(${l}) : ${l} in ${v})`;
        this.binds--;
      }
      return op === "in" ? test : `!(${test})`;
    }
    return `${this.value(left)} ${op} ${this.value(right)}`;
  }
}

/** A CEL double literal: JSON numbers are doubles, and CEL does not mix int and double in arithmetic. */
function double(v: number): string {
  if (Object.is(v, -0)) return "-0.0";
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}
