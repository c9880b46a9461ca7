import { describe, expect, it } from "vitest";
import { compileFilter, MAX_FILTER_LENGTH, renameTypeIdentifier, type FilterInput } from "./filter.js";
import { event, expectFilterRefused, filterError, T0 } from "../../test/helpers/filter-inputs.js";

describe("compileFilter matches", () => {
  // [event, filter, expected]
  const table: Array<[FilterInput, string, boolean]> = [
    // data fields
    [event(), 'data.name == "Ada"', true],
    [event(), 'data.name == "ada"', false],
    [event(), 'data.customer.country == "DE"', true],
    [event(), 'data.customer.country in ["FR", "DE"]', true],
    [event(), '"b" in data.tags', true],
    [event(), "size(data.tags) == 2", true],
    [event(), "data.flag", true],
    [event(), "!data.flag", false],
    [event({ data: { flag: "yes" } }), "data.flag", false], // not a bool: no match, not an error
    [event(), "data.nothing == null", true],
    [event(), 'data.name.startsWith("A") && data.name.endsWith("a")', true],
    [event(), 'data.name.matches("^A.a$")', true],
    // numbers: JSON numbers are doubles, CEL literals without a dot are ints; they compare across types
    [event(), "data.amount > 100", true],
    [event(), "data.amount == 150", true],
    [event(), "data.amount == 150.0", true],
    [event(), "data.amount != 150", false],
    [event(), "data.amount >= 150 && data.amount < 151", true],
    [event(), "data.amount in [100, 150]", true],
    [event(), "data.price > 1", true],
    [event(), "data.price == 1.5", true],
    [event(), "data.price < 1.5", false],
    [event(), "data.count == 0", true],
    [event(), "data.customer.tier == 2", true],
    [event(), "int(data.amount) == 150", true],
    [event(), "type(data.amount) == double", true],
    [event(), "data.user_id == 123", false], // a string is not a number
    [event(), 'data.user_id == "123"', true],
    [event(), "data.amount + 1.0 == 151.0", true],
    [event(), "data.amount + 1 == 151", false], // CEL has no double + int arithmetic: an evaluation error
    // attributes
    [event(), 'attributes.region == "eu"', true],
    [event(), 'attributes["priority"] == "high"', true],
    [event(), 'attributes.region == "us"', false],
    [event(), '"region" in attributes', true],
    [event(), 'attributes.missing == "x"', false],
    [event({ attributes: {} }), 'attributes.region == "eu"', false],
    // topic
    [event(), 'topic == "orders.created"', true],
    [event(), 'topic.startsWith("orders.")', true],
    [event(), 'topic == "orders"', false],
    // type: the event field, a data field named type, and the string "type"
    [event(), 'type == "order.created"', true],
    [event(), 'type == "inner"', false],
    [event(), 'data.type == "inner"', true],
    [event(), 'data.type == "order.created"', false],
    [event(), '"type" == "type"', true],
    [event(), 'type.startsWith("order.")', true],
    [event(), 'type == "order.created" && data.type == "inner"', true],
    [event({ type: null }), "type == null", true],
    [event({ type: null }), 'type == "order.created"', false],
    // key, source, subject, id
    [event(), 'key == "customer-7"', true],
    [event({ key: null }), "key == null", true],
    [event({ key: null }), 'key == "customer-7"', false],
    [event(), 'source == "shop"', true],
    [event(), 'subject.startsWith("order/")', true],
    [event(), 'id.startsWith("evt_")', true],
    // time is a timestamp: compare with timestamp(), not with strings
    [event(), 'time == timestamp("2025-01-01T00:00:00Z")', true],
    [event(), 'time > timestamp("2024-12-31T23:59:59Z")', true],
    [event(), 'time > timestamp("2025-01-01T00:00:00Z")', false],
    [event({ time: T0 + 1 }), 'time > timestamp("2025-01-01T00:00:00Z")', true],
    [event(), 'time >= timestamp("2025-01-01T00:00:00Z") && time < timestamp("2025-01-02T00:00:00Z")', true],
    [event({ time: Date.UTC(2024, 5, 1) }), "time.getFullYear() == 2025", false],
    [event(), "time.getFullYear() == 2025", true],
    // has()
    [event(), "has(data.amount)", true],
    [event(), "has(data.missing)", false],
    [event(), "has(data.customer.country)", true],
    [event(), "has(attributes.region)", true],
    [event(), "has(attributes.missing)", false],
    [event(), "has(data.missing) && data.missing.deep == 1", false],
    [event(), "!has(data.missing) || data.missing > 1", true],
    // a missing field or a wrong type is "no match", never an error
    [event(), "data.missing == 1", false],
    [event(), "data.missing != 1", false],
    [event(), "data.missing.deep == 1", false],
    [event(), "data.name > 100", false],
    [event(), "data.tags.size() > data.name", false],
    [event(), "int(data.count) / int(data.count) == 0", false], // division by zero
    [event(), "data.missing", false],
    [event({ data: null }), "data.amount > 1", false],
    [event({ data: 42 }), "data.amount > 1", false],
    [event({ data: "text" }), 'data == "text"', true],
    [event({ data: [1, 2, 3] }), "size(data) == 3", true],
    [event({ data: [1, 2, 3] }), "data.amount == 1", false],
  ];

  it.each(table.map(([input, filter, expected]) => ({ input, filter, expected })))("$filter => $expected", ({ input, filter, expected }) => {
    expect(compileFilter(filter).matches(input)).toBe(expected);
  });

  it("keeps the source it was compiled from", () => {
    expect(compileFilter('type == "x"').source).toBe('type == "x"');
  });

  it("is reusable across events", () => {
    const f = compileFilter("data.amount > 100");
    expect([50, 150, 101, 100].map((amount) => f.matches(event({ data: { amount } })))).toEqual([false, true, true, false]);
  });
});

describe("filter evaluation errors", () => {
  it("counts evaluation failures through onError, and only them", () => {
    let errors = 0;
    const onError = () => errors++;
    expect(compileFilter("data.missing.deep == 1", { onError }).matches(event())).toBe(false);
    expect(compileFilter("data.amount > 1", { onError }).matches(event({ data: 7 }))).toBe(false);
    expect(compileFilter("data.amount > 1000", { onError }).matches(event())).toBe(false);
    expect(compileFilter("data.amount > 1", { onError }).matches(event())).toBe(true);
    expect(errors).toBe(2);
  });

  it("reports each filter's failures to its own onError", () => {
    const counts = { a: 0, b: 0 };
    const a = compileFilter("data.missing.deep == 1", { onError: () => counts.a++ });
    const b = compileFilter("data.missing.deep == 1", { onError: () => counts.b++ });
    a.matches(event());
    a.matches(event());
    b.matches(event());
    expect(counts).toEqual({ a: 2, b: 1 });
    expect(compileFilter("data.missing.deep == 1").matches(event())).toBe(false); // no onError: still no match
  });
});

describe("invalid filters", () => {
  // [filter, part of the details]
  const table: Array<[string, RegExp]> = [
    ["", /empty/],
    ["   \n ", /empty/],
    ["data.amount >", /Unexpected token/],
    ["data.amount > 1 &&", /Unexpected token/],
    ['data.name == "unterminated', /Unterminated string/],
    ["foo == 1", /Unknown variable: foo/],
    ["data.amount > 1 @", /Unexpected character/],
    ['time > "2024-01-01"', /no such overload/],
    ["topic == 1 + ", /Unexpected token/],
    // a filter must yield a bool
    ["1 + 2", /must yield a bool, but yields int/],
    ['"abc"', /must yield a bool, but yields string/],
    ["topic", /must yield a bool, but yields string/],
    ["size(data.tags)", /must yield a bool, but yields int/],
    ["time", /must yield a bool/],
    // bounded size and shape
    [`${"(".repeat(40)}true${")".repeat(40)}`, /maxDepth/],
    [Array.from({ length: 300 }, () => "1==1").join("||"), /maxAstNodes/],
    [`topic in [${Array.from({ length: 150 }, () => '"a"').join(",")}]`, /maxListElements/],
    [`topic == "${"x".repeat(MAX_FILTER_LENGTH)}"`, /at most 2048 are allowed/],
  ];

  it.each(table.map(([filter, details]) => ({ name: JSON.stringify(filter.slice(0, 60)), filter, details })))("$name", ({ filter, details }) => {
    expectFilterRefused(filter, "SB_FILTER_INVALID", "invalid filter", details);
  });

  it("gives the line and a caret under the column at fault", () => {
    const error = filterError("data.amount > 1 &&");
    expect(error.details).toContain(">    1 | data.amount > 1 &&");
    const lines = error.details.split("\n");
    const caret = lines[lines.length - 1]!;
    const source = lines[lines.length - 2]!;
    expect(caret.trim()).toBe("^");
    expect(caret.indexOf("^")).toBe(source.indexOf("&&") + 2);
  });

  it("points at the right line of a multi-line filter", () => {
    const error = filterError('topic == "a" &&\ndata.amount >');
    expect(error.details).toContain(">    2 | data.amount >");
  });

  it("speaks of `type`, never of the internal name, and leaves other words alone", () => {
    const bare = filterError("type ==");
    expect(bare.details).toContain("| type ==");
    expect(bare.details).not.toContain("_typ");
    const field = filterError("data._type >");
    expect(field.details).toContain("| data._type >");
    expect(field.details).not.toContain("typee");
  });

  it("accepts exactly MAX_FILTER_LENGTH characters and refuses one more", () => {
    const fits = `topic == "${"x".repeat(MAX_FILTER_LENGTH - 11)}"`;
    expect(fits).toHaveLength(MAX_FILTER_LENGTH);
    expect(compileFilter(fits).matches(event())).toBe(false);
    const error = filterError(`${fits} `);
    expect(error.details).toBe(`the filter has ${MAX_FILTER_LENGTH + 1} characters; at most ${MAX_FILTER_LENGTH} are allowed`);
  });

  it("refuses a non-string", () => {
    expect(filterError(42 as unknown as string).code).toBe("SB_FILTER_INVALID");
  });
});

describe("renameTypeIdentifier", () => {
  // [source, renamed]
  const table: Array<[string, string]> = [
    ['type == "x"', '_typ == "x"'],
    ['  type=="x"', '  _typ=="x"'],
    ["(type)", "(_typ)"],
    ['type.startsWith("a")', '_typ.startsWith("a")'],
    ['data.type == "x"', 'data.type == "x"'],
    ['data. type == "x"', 'data. type == "x"'],
    ['data.\n  type == "x"', 'data.\n  type == "x"'],
    ['"type" == "type"', '"type" == "type"'],
    ["'type' == type", "'type' == _typ"],
    ['"say \\"type\\"" == type', '"say \\"type\\"" == _typ'],
    ['"""a "type" b""" == type', '"""a "type" b""" == _typ'],
    ["'''type''' == type", "'''type''' == _typ"],
    ['r"\\" == type', 'r"\\" == _typ'], // a raw string ends at the first quote
    ['R"type" == type', 'R"type" == _typ'],
    ['bar"type" == type', 'bar"type" == _typ'], // `bar` is an identifier, not a raw-string prefix
    ["type(data.amount) == int", "type(data.amount) == int"],
    ["type (data.amount) == int", "type (data.amount) == int"],
    ["types == 1 || mytype == 1 || _type == 1 || type_ == 1", "types == 1 || mytype == 1 || _type == 1 || type_ == 1"],
    ["type == type", "_typ == _typ"],
    ['type == "a" // type\n&& type != "b"', '_typ == "a" // type\n&& _typ != "b"'],
    ['has(data.type) && type in ["a"]', 'has(data.type) && _typ in ["a"]'],
    ["", ""],
  ];

  it.each(table)("%j", (source, renamed) => {
    const out = renameTypeIdentifier(source);
    expect(out).toBe(renamed);
    expect(out).toHaveLength(source.length); // columns in error messages stay right
  });
});

// --- cost: the static estimate, the runtime budget, RE2 `matches`, growth caps ----------------------------------

/** An event whose data is `data`, as parsed from a JSON body. */
