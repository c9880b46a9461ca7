import { describe, expect, it } from "vitest";
import { HubError } from "../errors.js";
import { compileFilter, type FilterInput } from "./filter.js";
import { translateSwitchFilter } from "./switch-filter.js";

/** An event with this data and these captured headers. */
function event(data: unknown, headers: Record<string, string> = {}): FilterInput {
  return { id: "evt_1", topic: "t1", type: null, source: null, subject: null, key: null, time: 0, data, attributes: {}, headers };
}

/** Whether the switch filter, translated and compiled, matches the event. */
function matches(filter: string, e: FilterInput): boolean {
  return compileFilter(translateSwitchFilter(filter)).matches(e);
}

/** The HubError the translation throws. */
function refusal(filter: string): HubError {
  try {
    translateSwitchFilter(filter);
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  return expect.fail(`${filter} was translated`);
}

describe("translateSwitchFilter", () => {
  it.each<[string, string]>([
    ["True", "true"],
    ["False", "false"],
    ["None", "false"],
    ['data["body"]["x"] == 1', '(data["x"] == 1.0)'],
    ["data['body']['x'] != 'a'", '(data["x"] != "a")'],
    ['data["headers"]["X-Tenant"] == "z"', '(headers["x-tenant"] == "z")'],
    ['data["body"]["items"][0]["sku"] == "a"', '(data["items"][0]["sku"] == "a")'],
    ['data["body"]["x"] == 1 and data["headers"]["y"] == "z"', '((data["x"] == 1.0) ? (headers["y"] == "z") : false)'],
    ['data["body"]["a"] == 1 or data["body"]["b"] == 2', '((data["a"] == 1.0) ? true : (data["b"] == 2.0))'],
    ['not data["body"]["a"] == 1', '!((data["a"] == 1.0))'],
    ['data["body"]["x"] is None', '(data["x"] == null)'],
    ['data["body"]["x"] is not None', '(data["x"] != null)'],
    ['1 < data["body"]["x"] <= 3', '((1.0 < data["x"]) ? (data["x"] <= 3.0) : false)'],
    ['"a" in data["body"]["tags"]', '(cel.bind(_r1, data["tags"], type(_r1) == string ? _r1.contains("a") : "a" in _r1))'],
    ['data["body"]["n"] in [1, 2.5, -3]', '(data["n"] in [1.0, 2.5, -3.0])'],
    ['data["body"]["n"] not in (1, 2)', '(!(data["n"] in [1.0, 2.0]))'],
    ['"ell" in "hello"', '("hello".contains("ell"))'],
    ['data["body"]["x"]', 'cel.bind(_v1, data["x"], _v1 != null && _v1 != false && _v1 != 0.0 && _v1 != "" && _v1 != [] && _v1 != {})'],
    ['data["body"]["n"] == 0x10', '(data["n"] == 16.0)'],
    ['data["body"]["n"] == 1_000', '(data["n"] == 1000.0)'],
    ['data["body"]["n"] >= 1e3', '(data["n"] >= 1000.0)'],
    ['data["body"]["s"] == "a\\"b\\n"', '(data["s"] == "a\\"b\\n")'],
    ["data['body']['s'] == r'a\\d'", '(data["s"] == "a\\\\d")'],
    ['data["body"]["s"] == "a" "b"', '(data["s"] == "ab")'],
    ['(data["body"]["a"] == 1)', '(data["a"] == 1.0)'],
  ])("%s → %s", (switchFilter, cel) => {
    expect(translateSwitchFilter(switchFilter)).toBe(cel);
  });

  // [filter, data, headers, expected]: the meaning Python gives, evaluated by the hub.
  it.each<[string, unknown, Record<string, string>, boolean]>([
    ["True", {}, {}, true],
    ["False", {}, {}, false],
    ['data["body"]["x"] == 1 and data["headers"]["y"] == "z" or data["body"]["special_key"] == "special value"', { x: 1 }, { y: "z" }, true],
    [
      'data["body"]["x"] == 1 and data["headers"]["y"] == "z" or data["body"]["special_key"] == "special value"',
      { x: 1, special_key: "no" },
      { y: "w" },
      false,
    ],
    [
      'data["body"]["x"] == 1 and data["headers"]["y"] == "z" or data["body"]["special_key"] == "special value"',
      { x: 2, special_key: "special value" },
      {},
      true,
    ],
    // `a and b or c` is `(a and b) or c`, not `a and (b or c)`
    ['data["body"]["a"] == 1 and data["body"]["b"] == 1 or data["body"]["c"] == 1', { a: 0, b: 0, c: 1 }, {}, true],
    ['data["body"]["a"] == 1 and data["body"]["b"] == 1 or data["body"]["c"] == 1', { a: 1, b: 0, c: 0 }, {}, false],
    ['data["body"]["a"] == 1 or data["body"]["b"] == 1 and data["body"]["c"] == 1', { a: 1, b: 0, c: 0 }, {}, true],
    ['not data["body"]["a"] == 1 and data["body"]["b"] == 1', { a: 2, b: 1 }, {}, true],
    ['not (data["body"]["a"] == 1 and data["body"]["b"] == 1)', { a: 1, b: 1 }, {}, false],
    ["not not True", {}, {}, true],
    // switch's own example: test a key before going into it
    ['data["body"]["x"] and data["body"]["x"]["y"]', { x: { y: 1 } }, {}, true],
    ['data["body"]["x"] and data["body"]["x"]["y"]', { x: null }, {}, false],
    ['data["body"]["x"] and data["body"]["x"]["y"]', { x: {} }, {}, false],
    ['data["body"]["x"] and data["body"]["x"]["y"]', { x: { y: 0 } }, {}, false],
    ['data["body"]["x"] and data["body"]["x"]["y"]', { x: { y: "" } }, {}, false],
    ['data["body"]["x"] and data["body"]["x"]["y"]', { x: { y: [0] } }, {}, true],
    // a missing key raises in Python: no match, even where CEL's || would absorb the error
    ['data["body"]["missing"] == 1', {}, {}, false],
    ['data["body"]["missing"] == 1 or True', {}, {}, false],
    ['True or data["body"]["missing"] == 1', {}, {}, true],
    ['False and data["body"]["missing"] == 1', {}, {}, false],
    ['not data["body"]["missing"]', {}, {}, false],
    // nested subscripts and lists
    ['data["body"]["a"]["b"]["c"] == "deep"', { a: { b: { c: "deep" } } }, {}, true],
    ['data["body"]["items"][1]["price"] > 10', { items: [{ price: 5 }, { price: 11 }] }, {}, true],
    ['data["body"]["items"][2]["price"] > 10', { items: [{ price: 5 }, { price: 11 }] }, {}, false],
    // comparisons across types: == is false, < raises
    ['data["body"]["x"] == "1"', { x: 1 }, {}, false],
    ['data["body"]["x"] < "1"', { x: 1 }, {}, false],
    ['data["body"]["x"] == 1.0', { x: 1 }, {}, true],
    ['data["body"]["x"] == True', { x: true }, {}, true],
    ['data["body"]["x"] is None', { x: null }, {}, true],
    ['data["body"]["x"] is not None', { x: 0 }, {}, true],
    ['0 < data["body"]["x"] < 10', { x: 5 }, {}, true],
    ['0 < data["body"]["x"] < 10', { x: 50 }, {}, false],
    ['-5 < data["body"]["x"]', { x: -1 }, {}, true],
    // in: membership, key, substring
    ['"vip" in data["body"]["tags"]', { tags: ["new", "vip"] }, {}, true],
    ['"vip" in data["body"]["tags"]', { tags: ["new"] }, {}, false],
    ['"vip" in data["body"]["flags"]', { flags: { vip: false } }, {}, true],
    ['"ell" in data["body"]["s"]', { s: "hello" }, {}, true],
    ['"vip" not in data["body"]["tags"]', { tags: ["new"] }, {}, true],
    ['data["body"]["n"] in [1, 2, 3]', { n: 2 }, {}, true],
    ['data["body"]["n"] in (1, 2, 3)', { n: 4 }, {}, false],
    ['"x-b" in data["headers"]', {}, { "x-b": "1" }, true],
    // headers: names are lower case, whatever case the filter uses
    ['data["headers"]["X-Source"] == "billing"', {}, { "x-source": "billing" }, true],
    ['data["headers"]["x-source"] == "billing"', {}, { "x-source": "crm" }, false],
    ['data["headers"]["x-absent"] == "a"', {}, {}, false],
    // truthiness of values
    ['data["body"]["s"]', { s: "a" }, {}, true],
    ['data["body"]["s"]', { s: "" }, {}, false],
    ['data["body"]["n"]', { n: 0 }, {}, false],
    ['data["body"]["n"]', { n: 0.5 }, {}, true],
    ['data["body"]["b"]', { b: false }, {}, false],
    ['data["body"]', {}, {}, false],
    ['data["body"]', { a: 1 }, {}, true],
    ['not data["body"]["l"]', { l: [] }, {}, true],
    ['"" or 0 or None or []', {}, {}, false],
    ['"a" and 1 and [0]', {}, {}, true],
    // conditional expressions
    ['data["body"]["a"] == 1 if data["body"]["kind"] == "x" else data["body"]["b"] == 1', { kind: "x", a: 1, b: 0 }, {}, true],
    ['data["body"]["a"] == 1 if data["body"]["kind"] == "x" else data["body"]["b"] == 1', { kind: "y", a: 1, b: 0 }, {}, false],
    // strings
    ["data['body']['q'] == 'it\\'s'", { q: "it's" }, {}, true],
    ['data["body"]["q"] == "caf\\u00e9"', { q: "café" }, {}, true],
    ['data["body"]["q"] == """tri"ple"""', { q: 'tri"ple' }, {}, true],
  ])("%s on %j, headers %j → %s", (filter, data, headers, expected) => {
    expect(matches(filter, event(data, headers))).toBe(expected);
  });

  // [filter, message, the text the caret points at (its first occurrence; "" for the end)]
  it.each<[string, RegExp, string]>([
    ["lambda x: x", /^a lambda has no translation/, "lambda"],
    ['data["body"]["tags"].count("a") > 1', /^attribute access \(\.count\) has no translation/, ".count"],
    ['len(data["body"]["tags"]) > 1', /^a function call \(len\) has no translation/, "len"],
    ['data["body"]["s"][1:3] == "bc"', /^slicing has no translation/, ":3"],
    ['data["body"]["s"][:3] == "abc"', /^slicing has no translation/, ":3"],
    ['data["body"]["n"] + 1 == 2', /^arithmetic \(\+\) has no translation/, "+"],
    ['data["body"]["n"] ** 2 == 4', /^the operator \*\* has no translation/, "**"],
    ['data["body"]["l"][-1] == 1', /^a negative index \(from the end\) has no translation/, "-1"],
    ['[data["body"] for x in data["body"]["l"]]', /^a list comprehension has no translation/, "for"],
    ['{"a": 1} == data["body"]', /^a dict or set literal has no translation/, "{"],
    ['data["http_method"] == "post"', /^data\["http_method"\] has no translation: only data\["body"\]/, '"http'],
    ["data == 1", /^data alone has no translation/, "data"],
    ["x == 1", /^the name x has no translation/, "x"],
    ['data["body"]["a"] = 1', /^an assignment \(=\) has no translation; compare with ==/, "="],
    ['f"{data}" == ""', /^an f-string has no translation/, "f"],
    ['data["body"]["a"] == 1 and', /^invalid syntax: unexpected the end of the filter/, ""],
    ['data["body"]["a"] == "open', /^invalid syntax: a string that is never closed/, '"open'],
    ['data["body"]["a"] is 1', /^is with anything but None, True or False has no translation; use ==/, "is"],
    ['(data["body"]["a"] or data["body"]["b"]) == 1', /^the value of or \(an operand, not a bool\) has no translation/, "or"],
  ])("refuses %s: %s at %j", (filter, message, at) => {
    const column = (at === "" ? filter.length : filter.indexOf(at)) + 1;
    const error = refusal(filter);
    expect(error.code).toBe("SB_FILTER_INVALID");
    expect(error.details).toMatch(message);
    expect(error.details).toContain(`line 1, column ${column})`);
    // The caret sits under that column.
    const lines = error.details.split("\n");
    expect(lines.at(-2)).toBe(`>    1 | ${filter}`);
    expect(lines.at(-1)).toBe(`${" ".repeat(9 + column - 1)}^`);
  });

  it("names the line of a filter over several lines", () => {
    const error = refusal('data["body"]["a"] == 1 and (\n  len(data["body"]) > 0)');
    expect(error.details).toMatch(/^a function call \(len\) has no translation \(switch filter, line 2, column 3\)/);
    expect(error.details).toContain('>    2 |   len(data["body"]) > 0)');
  });

  it("refuses nesting too deep to follow, before the stack runs out", () => {
    for (const deep of [`${"(".repeat(1000)}True${")".repeat(1000)}`, `${"not ".repeat(500)}True`, `${"-".repeat(1000)}1 == 1`, `${"[".repeat(1000)}`]) {
      expect(refusal(deep).details).toMatch(/^nesting deeper than 100 levels has no translation/);
    }
    // Within the bound, the CEL side refuses what is deeper than its own limit.
    expect(() => compileFilter(translateSwitchFilter(`${"(".repeat(90)}True${")".repeat(90)}`))).not.toThrow();
    expect(() => compileFilter(translateSwitchFilter(`${"not ".repeat(90)}True`))).toThrow(HubError);
  });

  it("refuses an empty or too long filter", () => {
    expect(refusal("  ").details).toBe("the filter is empty");
    expect(refusal(`data["body"]["a"] == "${"x".repeat(2100)}"`).details).toMatch(/at most 2048/);
  });
});
