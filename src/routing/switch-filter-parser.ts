import type { HubError } from "../errors.js";
import { refuse, type Token } from "./switch-filter-lexer.js";

/** The parser of switch's filters (Python expressions, by Python's precedence); see `switch-filter.ts`. */

/** A parsed switch filter: only what has a translation, with each node's offset in the source. */
export type Node =
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

const KEYWORDS_WITHOUT_TRANSLATION = new Set(["lambda", "await", "yield", "for", "async", "import", "del", "global", "nonlocal", "assert"]);
/** The deepest nesting of parentheses, brackets, `not` and signs the parser follows. */
const MAX_NESTING = 100;
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

/** A recursive-descent parser of one expression; what has no translation is refused as soon as it is seen. */
export class Parser {
  private i = 0;
  /** Nesting so far: bounded, so that a hostile filter cannot exhaust the stack (CEL allows 32 levels anyway). */
  private depth = 0;
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
      return refuse(
        this.src,
        t.at,
        t.v === ":=" ? "an assignment expression (:=) has no translation" : `an assignment (${t.v}) has no translation; compare with ==`,
      );
    }
    if (t.t === "op" && ARITHMETIC[t.v]) return refuse(this.src, t.at, `${ARITHMETIC[t.v]} has no translation`);
    return refuse(this.src, t.at, `invalid syntax: unexpected ${what}${expected ? `, ${expected}` : ""}`);
  }

  /** `a if c else b`, lambda refused. */
  private expr(): Node {
    this.enter();
    try {
      return this.conditional();
    } finally {
      this.depth--;
    }
  }

  private enter(): void {
    if (++this.depth > MAX_NESTING) throw refuse(this.src, this.peek().at, `nesting deeper than ${MAX_NESTING} levels has no translation`);
  }

  private conditional(): Node {
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
      this.enter();
      try {
        return { k: "not", a: this.notTest(), at };
      } finally {
        this.depth--;
      }
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
      this.enter();
      const operand = this.unary();
      this.depth--;
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
