import { describe, expect, it } from "vitest";
import { JsonSyntaxError, parseJsonSource } from "./json-source";

describe("parseJsonSource", () => {
  it.each([
    ["{}"],
    ["[]"],
    [' { "a" : [1, -2.5e3, true, false, null, "x\\n\\u00e9\\"" ] , "b": {"c": {}} } '],
    ['"just a string"'],
    ["0"],
    ['{"a": 1, "a": 2}'],
  ])("parses %s as JSON.parse does", (text) => {
    expect(parseJsonSource(text).value).toEqual(JSON.parse(text));
  });

  it("keeps a __proto__ key as a property of its own, as JSON.parse does", () => {
    const { value } = parseJsonSource('{"__proto__": {"polluted": true}}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value as object)).toEqual(["__proto__"]);
  });

  it("notes where each value starts, by JSON Pointer", () => {
    const text = '{\n  "properties": {"a/b": {"type": "x"}},\n  "list": [1, {"~": 2}]\n}';
    const { starts } = parseJsonSource(text);
    expect(text.slice(starts.get("/properties/a~1b/type"))).toMatch(/^"x"/);
    expect(text.slice(starts.get("/list/1/~0"))).toMatch(/^2\}\]/);
    expect(starts.get("")).toBe(0);
  });

  it.each([
    ["", 1, 1, "expected a value, found the end of the text"],
    ['{"a": 1,}', 1, 9, 'expected a property name in double quotes, found "}"'],
    ["{\n  'a': 1}", 2, 3, `expected a property name in double quotes, found "'"`],
    ['{"a" 1}', 1, 6, 'expected ":" after the property name, found "1"'],
    ["[1 2]", 1, 4, 'expected "," or "]", found "2"'],
    ['{"a": tru}', 1, 7, 'expected a value, found "t"'],
    ['{"a": 01}', 1, 8, 'expected "," or "}", found "1"'],
    ['{"a": "b', 1, 9, "expected a closing quote, found the end of the text"],
    ['{"a": "\\x"}', 1, 7, 'expected a string with valid escapes, found "\\""'],
    ["{} {}", 1, 4, 'expected the end of the text, found "{"'],
  ])("refuses %j at line %i, column %i: %s", (text, line, column, message) => {
    expect(() => JSON.parse(text)).toThrow();
    let error: unknown;
    try {
      parseJsonSource(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JsonSyntaxError);
    expect((error as JsonSyntaxError).message).toBe(message);
    expect((error as JsonSyntaxError).position).toMatchObject({ line, column });
  });
});
