/**
 * JSON text with positions: a small parser that reports where a syntax error is (the same in every browser, unlike
 * `JSON.parse`'s messages) and where each value starts, by JSON Pointer, so that an error about a part of the parsed
 * value (a schema keyword) can point at its line and column.
 */

/** A place in the text: 1-based line and column, and the 0-based offset. */
export interface TextPosition {
  offset: number;
  line: number;
  column: number;
}

/** A syntax error of {@link parseJsonSource}, with its position. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: TextPosition,
  ) {
    super(message);
  }
}

/** A parsed document: its value, and where each value starts, by JSON Pointer (`""` for the root). */
export interface JsonSource {
  value: unknown;
  starts: Map<string, number>;
}

/** The line and column of `offset` in `text`. */
export function positionOf(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { offset, line, column: offset - before.lastIndexOf("\n") };
}

/** A JSON Pointer token, escaped (RFC 6901). */
function escapeToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Parses JSON text as `JSON.parse` does, noting where each value starts.
 * @throws JsonSyntaxError naming what was expected, at the line and column where it was not found.
 */
export function parseJsonSource(text: string): JsonSource {
  const starts = new Map<string, number>();
  let i = 0;
  const fail = (what: string): never => {
    const found = i >= text.length ? "the end of the text" : JSON.stringify(text[i]);
    throw new JsonSyntaxError(`expected ${what}, found ${found}`, positionOf(text, i));
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const literal = (word: string, value: unknown) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail("a value");
  };
  const string = (): string => {
    const start = i;
    i++; // the opening quote
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail("a closing quote (a string cannot span lines)");
      i += text[i] === "\\" ? 2 : 1;
    }
    if (i >= text.length) fail("a closing quote");
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail("a string with valid escapes");
    }
  };
  const number = (): number => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) return fail("a value");
    i += match[0].length;
    return Number(match[0]);
  };
  const value = (pointer: string): unknown => {
    space();
    starts.set(pointer, i);
    const c = text[i];
    if (c === "{") return object(pointer);
    if (c === "[") return array(pointer);
    if (c === '"') return string();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return number();
    return fail("a value");
  };
  const object = (pointer: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    i++;
    space();
    if (text[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      space();
      if (text[i] !== '"') fail("a property name in double quotes");
      const key = string();
      space();
      if (text[i] !== ":") fail('":" after the property name');
      i++;
      // Defined, not assigned: a "__proto__" key is a property of its own, as JSON.parse makes it.
      Object.defineProperty(out, key, { value: value(`${pointer}/${escapeToken(key)}`), enumerable: true, writable: true, configurable: true });
      space();
      if (text[i] === ",") i++;
      else if (text[i] === "}") {
        i++;
        return out;
      } else fail('"," or "}"');
    }
  };
  const array = (pointer: string): unknown[] => {
    const out: unknown[] = [];
    i++;
    space();
    if (text[i] === "]") {
      i++;
      return out;
    }
    for (;;) {
      out.push(value(`${pointer}/${out.length}`));
      space();
      if (text[i] === ",") i++;
      else if (text[i] === "]") {
        i++;
        return out;
      } else fail('"," or "]"');
    }
  };
  const parsed = value("");
  space();
  if (i < text.length) fail("the end of the text");
  return { value: parsed, starts };
}
