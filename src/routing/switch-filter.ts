import { HubError } from "../errors.js";
import { MAX_FILTER_LENGTH } from "./filter.js";

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

type Node =
  | { k: "bool"; v: boolean; at: number }
  | { k: "none"; at: number }
  | { k: "num"; v: number; int: boolean; at: number }
  | { k: "str"; v: string; at: number }
  | { k: "list"; items: Node[]; at: number }
  | { k: "data"; at: number }
  | { k: "sub"; obj: Node; index: Node; at: number }
  | { k: "and" | "or"; a: Node; b: Node; at: number }
  | { k: "not"; a: Node; at: number }
  | { k: "cmp"; ops: { op: string; at: number }[]; operands: Node[]; at: number }
  | { k: "cond"; cond: Node; then: Node; else: Node; at: number };

interface Token {
  t: "name" | "num" | "str" | "op" | "end";
  v: string;
  at: number;
  /** For strings: the decoded value. For numbers: the value. */
  value?: string | number;
  int?: boolean;
}

const OPERATORS = [
  "**=", "//=", ">>=", "<<=", "...",
  "==", "!=", "<=", ">=", "//", "**", "<<", ">>", "->", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
  "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "+", "-", "*", "/", "%", "~", "&", "|", "^", "@", "=", ";",
];
const KEYWORDS_WITHOUT_TRANSLATION = new Set(["lambda", "await", "yield", "for", "async", "import", "del", "global", "nonlocal", "assert"]);
const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">="]);
const ARITHMETIC: Record<string, string> = {
  "|": "the operator |",
  "^": "the operator ^",
  "&": "the operator &",
  "<<": "the operator <<",
  ">>": "the operator >>",
  "+": "arithmetic (+)",
  "-": "arithmetic (-)",
  "*": "arithmetic (*)",
  "/": "arithmetic (/)",
  "//": "arithmetic (//)",
  "%": "arithmetic (%)",
  "@": "the operator @",
  "**": "the operator **",
};

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

/** A 400 naming `what` and pointing at `at` in the source, as CEL's own errors do. */
function refuse(source: string, at: number, what: string): HubError {
  const lineStart = source.lastIndexOf("\n", at - 1) + 1;
  const lineEnd = source.indexOf("\n", at);
  const lineNumber = source.slice(0, at).split("\n").length;
  const column = at - lineStart + 1;
  const line = source.slice(lineStart, lineEnd === -1 ? source.length : lineEnd);
  return new HubError(
    "SB_FILTER_INVALID",
    `${what} (switch filter, line ${lineNumber}, column ${column})\n\n> ${String(lineNumber).padStart(4, " ")} | ${line}\n${" ".repeat(9 + column - 1)}^`,
  );
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") {
      i++;
      continue;
    }
    if (c === "\\" && (src[i + 1] === "\n" || src[i + 1] === "\r")) {
      i += 2; // an explicit line continuation
      continue;
    }
    if (c === "#") throw refuse(src, i, "a comment has no translation");
    const strStart = /^([rRuUbBfF]{0,2})(['"])/.exec(src.slice(i, i + 3));
    if (strStart) {
      const prefix = strStart[1]!.toLowerCase();
      if (prefix.includes("f")) throw refuse(src, i, "an f-string has no translation");
      if (prefix.includes("b")) throw refuse(src, i, "a bytes literal has no translation");
      if (prefix.includes("u") && prefix.length > 1) throw refuse(src, i, `the string prefix ${strStart[1]} is not Python`);
      const [value, end] = readString(src, i, i + prefix.length, prefix.includes("r"));
      out.push({ t: "str", v: src.slice(i, end), at: i, value });
      i = end;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: "name", v: m[0], at: i });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:[0-9](?:_?[0-9])*)?(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)/.exec(
        src.slice(i),
      )!;
      const text = m[0];
      if (/^[jJ]/.test(src.slice(i + text.length))) throw refuse(src, i, "a complex number has no translation");
      if (/^[A-Za-z0-9_]/.test(src.slice(i + text.length))) throw refuse(src, i + text.length, "invalid syntax: a malformed number");
      const clean = text.replaceAll("_", "");
      const int = !/^0[xXoObB]/.test(clean) ? !/[.eE]/.test(clean) : true;
      let value: number;
      if (/^0[xX]/.test(clean)) value = parseInt(clean.slice(2), 16);
      else if (/^0[oO]/.test(clean)) value = parseInt(clean.slice(2), 8);
      else if (/^0[bB]/.test(clean)) value = parseInt(clean.slice(2), 2);
      else {
        if (int && /^0[0-9]/.test(clean) && /[1-9]/.test(clean)) throw refuse(src, i, "invalid syntax: leading zeros in a decimal integer");
        value = Number(clean);
      }
      if (!Number.isFinite(value)) throw refuse(src, i, "a number beyond the range of a double has no translation");
      out.push({ t: "num", v: text, at: i, value, int });
      i += text.length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw refuse(src, i, `invalid syntax: unexpected character ${JSON.stringify(c)}`);
    out.push({ t: "op", v: op, at: i });
    i += op.length;
  }
  out.push({ t: "end", v: "", at: src.length });
  return out;
}

const ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\n": "" };

/** Reads a (possibly triple-quoted, possibly raw) Python string whose quote is at `q`; returns its value and end. */
function readString(src: string, start: number, q: number, raw: boolean): [string, number] {
  const quote = src[q]!;
  const triple = src.startsWith(quote.repeat(3), q);
  const close = triple ? quote.repeat(3) : quote;
  let i = q + close.length;
  let value = "";
  while (true) {
    if (i >= src.length) throw refuse(src, start, "invalid syntax: a string that is never closed");
    if (src.startsWith(close, i)) return [value, i + close.length];
    const c = src[i]!;
    if (!triple && c === "\n") throw refuse(src, start, "invalid syntax: a string that is never closed");
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const n = src[i + 1];
    if (n === undefined) throw refuse(src, start, "invalid syntax: a string that is never closed");
    if (raw) {
      value += c + n;
      i += 2;
      continue;
    }
    if (ESCAPES[n] !== undefined) {
      value += ESCAPES[n];
      i += 2;
    } else if (n === "x" || n === "u" || n === "U") {
      const len = n === "x" ? 2 : n === "u" ? 4 : 8;
      const hex = src.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw refuse(src, i, `invalid syntax: a truncated \\${n} escape`);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw refuse(src, i, `invalid syntax: \\${n}${hex} is beyond Unicode`);
      value += String.fromCodePoint(code);
      i += 2 + len;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(src.slice(i + 1))!;
      value += String.fromCodePoint(parseInt(m[0], 8));
      i += 1 + m[0].length;
    } else if (n === "N") {
      throw refuse(src, i, "a \\N{…} escape has no translation");
    } else {
      value += c + n; // Python keeps an unknown escape as it is
      i += 2;
    }
  }
}

class Parser {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly tokens: Token[],
  ) {}

  parseAll(): Node {
    const node = this.expr();
    const t = this.peek();
    if (t.t !== "end") throw this.unexpected(t);
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private isOp(v: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === "op" && t.v === v;
  }

  private isName(v: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.t === "name" && t.v === v;
  }

  private expectOp(v: string): Token {
    const t = this.next();
    if (t.t !== "op" || t.v !== v) throw this.unexpected(t, `expected ${v}`);
    return t;
  }

  private unexpected(t: Token, expected?: string): HubError {
    const what = t.t === "end" ? "the end of the filter" : JSON.stringify(t.v);
    if (t.t === "op" && (t.v === "=" || t.v.endsWith("=")) && !COMPARISONS.has(t.v)) {
      return refuse(this.src, t.at, t.v === ":=" ? "an assignment expression (:=) has no translation" : `an assignment (${t.v}) has no translation; compare with ==`);
    }
    if (t.t === "op" && ARITHMETIC[t.v]) return refuse(this.src, t.at, `${ARITHMETIC[t.v]} has no translation`);
    return refuse(this.src, t.at, `invalid syntax: unexpected ${what}${expected ? `, ${expected}` : ""}`);
  }

  /** `a if c else b`, lambda refused. */
  private expr(): Node {
    if (this.isName("lambda")) throw refuse(this.src, this.peek().at, "a lambda has no translation");
    const then = this.orTest();
    if (this.isName("if")) {
      const at = this.next().at;
      const cond = this.orTest();
      if (!this.isName("else")) throw this.unexpected(this.peek(), "expected else");
      this.next();
      const otherwise = this.expr();
      return { k: "cond", cond, then, else: otherwise, at };
    }
    return then;
  }

  private orTest(): Node {
    let a = this.andTest();
    while (this.isName("or")) {
      const at = this.next().at;
      a = { k: "or", a, b: this.andTest(), at };
    }
    return a;
  }

  private andTest(): Node {
    let a = this.notTest();
    while (this.isName("and")) {
      const at = this.next().at;
      a = { k: "and", a, b: this.notTest(), at };
    }
    return a;
  }

  private notTest(): Node {
    if (this.isName("not")) {
      const at = this.next().at;
      return { k: "not", a: this.notTest(), at };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const first = this.arith();
    const ops: { op: string; at: number }[] = [];
    const operands = [first];
    while (true) {
      const t = this.peek();
      let op: string | undefined;
      if (t.t === "op" && COMPARISONS.has(t.v)) {
        this.next();
        op = t.v;
      } else if (t.t === "name" && t.v === "in") {
        this.next();
        op = "in";
      } else if (t.t === "name" && t.v === "not" && this.isName("in", 1)) {
        this.next();
        this.next();
        op = "not in";
      } else if (t.t === "name" && t.v === "is") {
        this.next();
        if (this.isName("not")) {
          this.next();
          op = "is not";
        } else op = "is";
      }
      if (op === undefined) break;
      ops.push({ op, at: t.at });
      operands.push(this.arith());
    }
    return ops.length === 0 ? first : { k: "cmp", ops, operands, at: first.at };
  }

  /** Arithmetic and bitwise operators are parsed only to be named; a unary minus on a number is its sign. */
  private arith(): Node {
    const node = this.unary();
    const t = this.peek();
    if (t.t === "op" && ARITHMETIC[t.v]) throw refuse(this.src, t.at, `${ARITHMETIC[t.v]} has no translation`);
    return node;
  }

  private unary(): Node {
    const t = this.peek();
    if (t.t === "op" && (t.v === "-" || t.v === "+")) {
      this.next();
      const operand = this.unary();
      if (operand.k === "num") return { ...operand, v: t.v === "-" ? -operand.v : operand.v, at: t.at };
      throw refuse(this.src, t.at, `a unary ${t.v} on anything but a number has no translation`);
    }
    if (t.t === "op" && t.v === "~") throw refuse(this.src, t.at, "the operator ~ has no translation");
    if (t.t === "name" && t.v === "await") throw refuse(this.src, t.at, "await has no translation");
    return this.power();
  }

  private power(): Node {
    let node = this.atom();
    while (true) {
      const t = this.peek();
      if (t.t !== "op") break;
      if (t.v === "[") {
        this.next();
        if (this.isOp(":")) throw refuse(this.src, this.peek().at, "slicing has no translation");
        const index = this.expr();
        if (this.isOp(":")) throw refuse(this.src, this.peek().at, "slicing has no translation");
        if (this.isOp(",")) throw refuse(this.src, this.peek().at, "a tuple subscript has no translation");
        this.expectOp("]");
        node = { k: "sub", obj: node, index, at: t.at };
      } else if (t.v === "(") {
        throw refuse(this.src, t.at, "a function call has no translation");
      } else if (t.v === ".") {
        const name = this.peek(1);
        throw refuse(this.src, t.at, name.t === "name" ? `attribute access (.${name.v}) has no translation` : "attribute access has no translation");
      } else break;
    }
    if (this.isOp("**")) throw refuse(this.src, this.peek().at, "the operator ** has no translation");
    return node;
  }

  private atom(): Node {
    const t = this.next();
    switch (t.t) {
      case "num":
        return { k: "num", v: t.value as number, int: t.int ?? false, at: t.at };
      case "str": {
        let v = t.value as string;
        while (this.peek().t === "str") v += this.next().value as string; // "a" "b" is "ab"
        return { k: "str", v, at: t.at };
      }
      case "name":
        if (t.v === "True" || t.v === "False") return { k: "bool", v: t.v === "True", at: t.at };
        if (t.v === "None") return { k: "none", at: t.at };
        if (t.v === "data") return { k: "data", at: t.at };
        if (this.isOp("(")) throw refuse(this.src, t.at, `a function call (${t.v}) has no translation`);
        if (t.v === "lambda") throw refuse(this.src, t.at, "a lambda has no translation");
        if (KEYWORDS_WITHOUT_TRANSLATION.has(t.v)) throw refuse(this.src, t.at, `${t.v} has no translation`);
        if (["and", "or", "not", "in", "is", "if", "else"].includes(t.v)) throw this.unexpected(t);
        throw refuse(this.src, t.at, `the name ${t.v} has no translation: a filter sees only data, True, False and None`);
      case "op":
        if (t.v === "(") {
          if (this.isOp(")")) throw refuse(this.src, t.at, "an empty tuple has no translation");
          const first = this.expr();
          if (this.isName("for") || this.isName("async")) throw refuse(this.src, this.peek().at, "a generator expression has no translation");
          if (this.isOp(",")) return this.sequence(first, t.at, ")");
          this.expectOp(")");
          return first;
        }
        if (t.v === "[") {
          if (this.isOp("]")) {
            this.next();
            return { k: "list", items: [], at: t.at };
          }
          const first = this.expr();
          if (this.isName("for") || this.isName("async")) throw refuse(this.src, this.peek().at, "a list comprehension has no translation");
          return this.sequence(first, t.at, "]");
        }
        if (t.v === "{") throw refuse(this.src, t.at, "a dict or set literal has no translation");
        if (t.v === "...") throw refuse(this.src, t.at, "Ellipsis has no translation");
        if (t.v === "*") throw refuse(this.src, t.at, "unpacking (*) has no translation");
        throw this.unexpected(t);
      case "end":
        throw this.unexpected(t);
    }
  }

  /** The rest of a list or tuple display after its first item. */
  private sequence(first: Node, at: number, close: string): Node {
    const items = [first];
    while (this.isOp(",")) {
      this.next();
      if (this.isOp(close)) break;
      items.push(this.expr());
    }
    this.expectOp(close);
    return { k: "list", items, at };
  }
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
