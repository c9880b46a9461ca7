import { HubError } from "../errors.js";

/** The lexer of switch's filters (Python expressions); see `switch-filter.ts`. */

/** One token: a name, a number, a string, an operator, or the end. */
export interface Token {
  t: "name" | "num" | "str" | "op" | "end";
  v: string;
  at: number;
  /** For strings: the decoded value. For numbers: the value. */
  value?: string | number;
  int?: boolean;
}

// Longest first, so that a prefix never wins over a longer operator.
// prettier-ignore
const OPERATORS = [
  "**=", "//=", ">>=", "<<=", "...",
  "==", "!=", "<=", ">=", "//", "**", "<<", ">>", "->", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
  "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "+", "-", "*", "/", "%", "~", "&", "|", "^", "@", "=", ";",
];

/** A 400 naming `what` and pointing at `at` in the source, as CEL's own errors do. */
export function refuse(source: string, at: number, what: string): HubError {
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

/** The tokens of a filter, ending with an `end` token. */
export function tokenize(src: string): Token[] {
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
      const m =
        /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:[0-9](?:_?[0-9])*)?(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)/.exec(
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
