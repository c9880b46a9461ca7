import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../config.js";
import { HubError } from "../errors.js";
import { EVENT_LIMITS } from "../ingest/limits.js";
import { compileFilter, formatCost, MAX_FILTER_LENGTH, renameTypeIdentifier, type FilterInput } from "./filter.js";
import { EVENT_BOUNDS } from "./filter-cost.js";
import { compileRegex } from "./filter-guard.js";

const T0 = Date.UTC(2025, 0, 1);

/** An event with every field set; override what a row needs. */
function event(overrides: Partial<FilterInput> = {}): FilterInput {
  return {
    id: "evt_01JGZX0000AAAAAAAAAAAAAAAA",
    topic: "orders.created",
    type: "order.created",
    source: "shop",
    subject: "order/42",
    key: "customer-7",
    time: T0,
    data: {
      amount: 150,
      price: 1.5,
      count: 0,
      user_id: "123",
      name: "Ada",
      type: "inner",
      flag: true,
      nothing: null,
      tags: ["a", "b"],
      customer: { country: "DE", tier: 2 },
    },
    attributes: { region: "eu", priority: "high" },
    ...overrides,
  };
}

function filterError(source: string): HubError {
  try {
    compileFilter(source);
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  return expect.fail(`compileFilter(${JSON.stringify(source.slice(0, 80))}) did not throw`);
}

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
    [event(), 'data.name > 100', false],
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
    const error = filterError(filter);
    expect(error.code).toBe("SB_FILTER_INVALID");
    expect(error.status).toBe(400);
    expect(error.details).toMatch(details);
    expect(error.toBody()).toEqual({ error: "invalid filter", details: error.details, code: "SB_FILTER_INVALID" });
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
function dataEvent(data: unknown): FilterInput {
  return event({ data: JSON.parse(JSON.stringify(data)) });
}

/** Evaluates once and returns the result, the evaluation errors counted and the time taken. */
function evaluate(filter: string, input: FilterInput): { matched: boolean; errors: number; ms: number } {
  let errors = 0;
  const compiled = compileFilter(filter, { onError: () => errors++ });
  const start = performance.now();
  const matched = compiled.matches(input);
  return { matched, errors, ms: performance.now() - start };
}

const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(",")}]`;
/** Generous, for a loaded 2-core CI machine: evaluations take a few ms (docs/filters.md); before the fix, seconds. */
const SLOW_MS = 250;
/** The largest list a 1 MiB body holds: `[0,0,…]`. */
const zeros = (n = 520_000) => new Array<number>(n).fill(0);

describe("filter cost estimate", () => {
  // [filter, undefined when accepted, or the details of the refusal]
  const table: Array<[string, RegExp | undefined]> = [
    ['data.amount > 100 && attributes.region == "eu"', undefined],
    ['type == "order.created" && has(data.customer.vip)', undefined],
    ['topic.startsWith("orders.") && time > timestamp("2025-01-01T00:00:00Z")', undefined],
    ["size(data.items) >= 3", undefined],
    ["data.items.exists(i, i.price > 100)", undefined],
    ['attributes.region == "eu"', undefined],
    ['data.items.exists(i, i.name.contains("x"))', undefined], // names are parts of the event: counted once in all
    ['data.orders.exists(o, o.items.exists(i, i.sku == "x"))', undefined], // nested along the data: one pass
    ['data.tags.split(",").exists(t, t == "vip")', undefined],
    ['data.items.map(i, i.price).exists(p, p > 100.0) && data.items.filter(i, has(i.sku)).size() > 0', undefined],
    [`cel.bind(l, ${hundred}, l.all(a, l.all(b, true)))`, undefined], // 10,000 steps
    ['attributes.exists(k, attributes[k].startsWith("x"))', undefined],
    // over the limit whatever the event: refused with the estimate and the limit
    [`!cel.bind(l,${hundred},l.all(a,l.all(b,l.all(c,l.all(d,true)))))`, /^the filter's estimated cost \d\.\de8 exceeds the limit 2\.0e5 even on the smallest event$/],
    [`cel.bind(l, ${hundred}, l.all(a, l.all(b, l.all(c, true))))`, /^the filter's estimated cost \d\.\de6 exceeds the limit 2\.0e5 even on the smallest event$/],
    // two nested passes over the event: over the limit on the largest event
    ["data.a.exists(x, data.b.exists(y, x == y))", /^the filter's estimated cost \d\.\de1[2-9] exceeds the limit 1\.0e11 on the largest event$/],
    ["data.items.exists(i, data.text.contains(i.name))", /exceeds the limit 1\.0e11 on the largest event$/],
    ["data.items.exists(i, data.items.filter(j, j == i).size() > 1)", /exceeds the limit 1\.0e11 on the largest event$/],
    ['data.s.split("").exists(c, data.s.contains(c))', /exceeds the limit 1\.0e11 on the largest event$/],
  ];

  it.each(table.map(([filter, refusal]) => ({ name: filter.slice(0, 70), filter, refusal })))("$name", ({ filter, refusal }) => {
    if (!refusal) {
      expect(() => compileFilter(filter)).not.toThrow();
      return;
    }
    const error = filterError(filter);
    expect(error.code).toBe("SB_FILTER_TOO_COSTLY");
    expect(error.status).toBe(400);
    expect(error.details).toMatch(refusal);
    expect(error.toBody()).toEqual({ error: "filter too costly", details: error.details, code: "SB_FILTER_TOO_COSTLY" });
  });

  it("names costs like 1.0e8", () => {
    expect([1e8, 200_000, 123_456_789, 5].map(formatCost)).toEqual(["1.0e8", "2.0e5", "1.2e8", "5.0e0"]);
  });

  it("assumes the event limits of ingest", () => {
    expect(EVENT_BOUNDS).toMatchObject({
      id: EVENT_LIMITS.idLength,
      type: EVENT_LIMITS.typeLength,
      source: EVENT_LIMITS.sourceLength,
      subject: EVENT_LIMITS.subjectLength,
      key: EVENT_LIMITS.keyLength,
      attributeCount: EVENT_LIMITS.attributeCount,
      attributeValue: EVENT_LIMITS.attributeValueLength,
      bodyBytes: DEFAULT_CONFIG.bodyLimitBytes,
    });
  });
});

describe("filter runtime budget", () => {
  // [filter, event, expected, counted as an evaluation error]
  const table: Array<[string, FilterInput, boolean, boolean]> = [
    // an error per element (a number has no field): stops at the budget instead of 6 s
    ["data.items.exists(i, i.price > 100)", dataEvent({ items: zeros() }), false, true],
    ["data.items.exists(i, i.a == 1 || i.b == 1 || i.c == 1)", dataEvent({ items: zeros() }), false, true],
    // over budget: no match, even where `||` would have swallowed the failure
    ["data.items.all(i, i >= 0.0)", dataEvent({ items: zeros() }), false, true],
    ["data.items.all(i, i >= 0.0) || true", dataEvent({ items: zeros() }), false, true],
    ["data.items.map(i, i + 1.0).size() > 0", dataEvent({ items: zeros() }), false, true],
    // paid as it runs: an `exists` that finds its element early
    ["data.items.exists(i, i == 1.0)", dataEvent({ items: [1, ...zeros()] }), true, false],
    // within the budget: the same filters on ordinary events
    ["data.items.exists(i, i.price > 100)", dataEvent({ items: Array.from({ length: 1000 }, (_, i) => ({ price: i })) }), true, false],
    ["data.items.all(i, i >= 0.0)", dataEvent({ items: zeros(5000) }), true, false],
    ['data.items.exists(i, has(i.price) && i.price > 100)', dataEvent({ items: [...zeros(10_000), { price: 101 }] }), true, false],
    [`cel.bind(l, ${hundred}, l.all(a, l.all(b, a <= b || a > b)))`, event(), true, false],
  ];

  it.each(table.map(([filter, input, expected, counted]) => ({ name: filter.slice(0, 60), filter, input, expected, counted })))(
    "$name => $expected",
    ({ filter, input, expected, counted }) => {
      const { matched, errors, ms } = evaluate(filter, input);
      expect(matched).toBe(expected);
      expect(errors).toBe(counted ? 1 : 0);
      expect(ms).toBeLessThan(SLOW_MS);
    },
  );

  it("starts each evaluation with a full budget", () => {
    const heavy = compileFilter("data.items.all(i, i >= 0.0)");
    const big = dataEvent({ items: zeros() });
    const small = dataEvent({ items: zeros(10) });
    expect([heavy.matches(big), heavy.matches(small), heavy.matches(big), heavy.matches(small)]).toEqual([false, true, false, true]);
  });
});

describe("matches runs on RE2", () => {
  // [subject, pattern, expected]: partial match, as CEL specifies
  const table: Array<[string, string, boolean]> = [
    ["Ada", "^A.a$", true],
    ["order-123", "^order-[0-9]+$", true],
    ["order-12x", "^order-[0-9]+$", false],
    ["hello world", "o w", true],
    ["ABC", "(?i)abc", true],
    ["ABC", "abc", false],
    ["é", "^.$", true],
    ["a\nb", "^b", false],
    ["a\nb", "(?m)^b", true],
    ["x.y", "x\\.y", true],
    ["xzy", "x\\.y", false],
    ["2025-01-01", "^\\d{4}-\\d{2}-\\d{2}$", true],
    ["foo@example.com", "^[a-z]+@[a-z]+\\.[a-z]{2,}$", true],
    ["αβγ", "\\p{Greek}+", true],
    [`${"a".repeat(30)}!`, "^(a+)+$", false], // 2^30 steps for a backtracking engine
    [`${"a".repeat(30)}`, "^(a+)+$", true],
  ];

  it.each(table)("%j matches %j => %s", (subject, pattern, expected) => {
    const { matched, errors, ms } = evaluate(`data.s.matches(${JSON.stringify(pattern)})`, dataEvent({ s: subject }));
    expect(matched).toBe(expected);
    expect(errors).toBe(0);
    expect(ms).toBeLessThan(SLOW_MS);
  });

  it("runs in linear time on a long subject", () => {
    const { matched, ms } = evaluate('data.s.matches("^(a+)+$")', dataEvent({ s: `${"a".repeat(5000)}!` }));
    expect(matched).toBe(false);
    expect(ms).toBeLessThan(SLOW_MS);
  });

  // [filter, part of the details]
  const invalid: Array<[string, RegExp]> = [
    ['data.s.matches("(a)\\\\1")', /not valid RE2: .*invalid escape sequence/],
    ['data.s.matches("(?=a)b")', /not valid RE2: .*unsupported Perl syntax/],
    ['data.s.matches("(?<=a)b")', /not valid RE2/],
    ['data.s.matches("[a-")', /not valid RE2: .*missing closing \]/],
    ['data.s.matches("a{1001}")', /not valid RE2: .*invalid repeat count/],
  ];

  it.each(invalid)("refuses %s at compile time", (filter, details) => {
    const error = filterError(filter);
    expect(error.code).toBe("SB_FILTER_INVALID");
    expect(error.details).toMatch(details);
    expect(error.details).toContain(`>    1 | ${filter}`);
    const lines = error.details.split("\n");
    expect(lines[lines.length - 1]!.indexOf("^")).toBe(lines[lines.length - 2]!.indexOf('"'));
  });

  it("compiles a pattern from the event at run time; an invalid one is an evaluation error", () => {
    expect(evaluate("data.s.matches(data.p)", dataEvent({ s: "order-1", p: "^order-\\d$" }))).toMatchObject({ matched: true, errors: 0 });
    expect(evaluate("data.s.matches(data.p)", dataEvent({ s: "aa", p: "(a)\\1" }))).toMatchObject({ matched: false, errors: 1 });
    expect(evaluate("data.s.matches(data.p)", dataEvent({ s: "aa", p: "a".repeat(2000) }))).toMatchObject({ matched: false, errors: 1 });
  });

  it("caches compiled patterns", () => {
    expect(compileRegex("^x+$")).toBe(compileRegex("^x+$"));
  });
});

describe("string and list growth caps", () => {
  const big = "x".repeat(600_000);
  // [filter, event]: each produces a string or list over the caps, or spends the budget first; never a match
  const table: Array<[string, FilterInput]> = [
    ["size(data.s + data.s) > 0", dataEvent({ s: big })],
    ["cel.bind(s, data.s + data.s, cel.bind(t, s + s, t.size() > 0))", dataEvent({ s: "x".repeat(100_000) })],
    ["size(data.l + data.l) > 0", dataEvent({ l: zeros(300_000) })],
    ['data.s.split("").size() > 0', dataEvent({ s: big })],
    ['data.l.join(",").size() > 0', dataEvent({ l: new Array(200_000).fill("abcdefgh") })],
    ['data.s.split("").map(x, x + x).join().size() > 0', dataEvent({ s: "x".repeat(200_000) })],
    ['data.s.lowerAscii() != ""', dataEvent({ s: "X".repeat(1_000_000) })],
  ];

  it.each(table.map(([filter, input]) => ({ filter, input })))("$filter", ({ filter, input }) => {
    const { matched, errors, ms } = evaluate(filter, input);
    expect(matched).toBe(false);
    expect(errors).toBe(1);
    expect(ms).toBeLessThan(SLOW_MS);
  });

  it("lets ordinary growth through", () => {
    expect(evaluate('(data.a + "-" + data.b).size() == 3', dataEvent({ a: "x", b: "y" })).matched).toBe(true);
    expect(evaluate('data.s.split(",").map(x, x + x).join("|") == "aa|bb"', dataEvent({ s: "a,b" })).matched).toBe(true);
    expect(evaluate("size(data.l + [1.0]) == 4", dataEvent({ l: [1, 2, 3] })).matched).toBe(true);
  });
});

describe("the hostile filters of issue 9", () => {
  // [filter, event]: each stalled or crashed the hub; now each is refused at compile time or is a quick no-match
  const table: Array<[string, FilterInput]> = [
    [`!cel.bind(l,${hundred},l.all(a,l.all(b,l.all(c,l.all(d,true)))))`, event()],
    ['"aaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$")', event()],
    [
      'cel.bind(a,"abcdefgh".split(""),cel.bind(b,a.map(x,a.join()).join().split(""),cel.bind(c,b.map(x,b.join()).join().split(""),cel.bind(d,c.map(x,c.join()).join().split(""),d.map(x,d.join()).size()>0))))',
      event(),
    ],
    ['data.s.split("").map(x, data.s + x).join().size() > 0', dataEvent({ s: "x".repeat(10_000) })],
  ];

  it.each(table.map(([filter, input]) => ({ name: filter.slice(0, 70), filter, input })))("$name", ({ filter, input }) => {
    let compiled;
    try {
      compiled = compileFilter(filter);
    } catch (error) {
      expect((error as HubError).code).toBe("SB_FILTER_TOO_COSTLY");
      return;
    }
    const start = performance.now();
    expect(compiled.matches(input)).toBe(false);
    expect(performance.now() - start).toBeLessThan(SLOW_MS);
  });
});
