import { describe, expect, it } from "vitest";
import { compileTopicPattern, patternCovers, topicNameProblem, topicPatternProblem } from "./topic-pattern.js";

describe("topicNameProblem", () => {
  it.each(["orders", "orders.created", "a", "7", "Orders.EU-west_1:v2", "a.b.c.d", "x".repeat(200), "a-", "a:b", "a_.b"])("accepts %j", (name) => {
    expect(topicNameProblem(name)).toBeUndefined();
  });

  it.each<[unknown, RegExp]>([
    ["", /1-200 characters/],
    ["x".repeat(201), /1-200 characters/],
    [".orders", /starting with a letter or digit/],
    ["_orders", /starting with a letter or digit/],
    ["-orders", /starting with a letter or digit/],
    ["orders.", /empty segment/],
    ["orders..created", /empty segment/],
    ["orders created", /1-200 characters/],
    ["orders/created", /1-200 characters/],
    ["orders.*", /1-200 characters/],
    ["ordérs", /1-200 characters/],
    ["orders\n", /1-200 characters/],
    [42, /must be a string/],
    [null, /must be a string/],
    [undefined, /must be a string/],
  ])("rejects %j", (name, problem) => {
    expect(topicNameProblem(name)).toMatch(problem);
  });
});

describe("topicPatternProblem", () => {
  it.each(["orders", "orders.*", "orders.**", "*.created", "*", "**", "orders.*.created", "*.*", "orders.eu.**", "a-b:c.*"])("accepts %j", (pattern) => {
    expect(topicPatternProblem(pattern)).toBeUndefined();
  });

  it.each<[string, RegExp]>([
    ["orders.**.created", /'\*\*' may only be the last segment/],
    ["**.created", /'\*\*' may only be the last segment/],
    ["orders.**.**", /'\*\*' may only be the last segment/],
    ["orders*", /invalid segment "orders\*"/],
    ["orders.cre*", /invalid segment "cre\*"/],
    ["orders.***", /invalid segment "\*\*\*"/],
    ["orders..*", /invalid segment ""/],
    ["orders.*.", /invalid segment ""/],
    ["orders.(a|b).*", /invalid segment/],
    [`${"x".repeat(200)}.*`, /at most 200 characters/],
    ["orders..created", /empty segment/], // no wildcard: checked as a name
    ["", /1-200 characters/],
  ])("rejects %j", (pattern, problem) => {
    expect(topicPatternProblem(pattern)).toMatch(problem);
  });
});

describe("compileTopicPattern", () => {
  // [pattern, topic, matches]
  const table: Array<[string, string, boolean]> = [
    ["orders", "orders", true],
    ["orders", "orders.created", false],
    ["orders", "Orders", false],
    ["orders.*", "orders.created", true],
    ["orders.*", "orders.eu.created", false],
    ["orders.*", "orders", false],
    ["orders.*", "orders.", false],
    ["orders.*", "ordersX.created", false],
    ["orders.*", "shop.orders.created", false],
    ["orders.**", "orders.created", true],
    ["orders.**", "orders.eu.created", true],
    ["orders.**", "orders.eu.west.created", true],
    ["orders.**", "orders", false],
    ["orders.**", "ordersX.created", false],
    ["*.created", "orders.created", true],
    ["*.created", "users.created", true],
    ["*.created", "orders.eu.created", false],
    ["*.created", "created", false],
    ["*.created", "orders.created.v2", false],
    ["orders.*.created", "orders.eu.created", true],
    ["orders.*.created", "orders.eu.deleted", false],
    ["orders.*.created", "orders.created", false],
    ["*", "orders", true],
    ["*", "orders.created", false],
    ["**", "orders", true],
    ["**", "orders.eu.created", true],
    ["a-b:c.*", "a-b:c.x", true],
    ["a-b:c.*", "a-bXc.x", false],
  ];

  it.each(table)("%j against %j is %s", (pattern, topic, expected) => {
    expect(compileTopicPattern(pattern).matches(topic)).toBe(expected);
  });

  it.each<[string, boolean, string]>([
    ["orders.created", true, "orders.created"],
    ["orders.*", false, "orders."],
    ["orders.**", false, "orders."],
    ["orders.eu.*.created", false, "orders.eu."],
    ["*.created", false, ""],
    ["**", false, ""],
  ])("%j: exact %s, prefix %j", (pattern, exact, prefix) => {
    const m = compileTopicPattern(pattern);
    expect(m.pattern).toBe(pattern);
    expect(m.exact).toBe(exact);
    expect(m.prefix).toBe(prefix);
  });

  it("every topic a pattern matches starts with its prefix", () => {
    const topics = ["orders.created", "orders.eu.created", "ordersX.y", "users.created", "orders"];
    for (const pattern of ["orders.*", "orders.**", "orders.*.created", "*.created"]) {
      const m = compileTopicPattern(pattern);
      for (const t of topics) if (m.matches(t)) expect(t.startsWith(m.prefix)).toBe(true);
    }
  });
});

describe("patternCovers", () => {
  it.each<[string, string, boolean]>([
    ["orders.created", "orders.created", true],
    ["orders.created", "orders.updated", false],
    ["orders.created", "orders.*", false],
    ["orders", "orders.created", false],
    ["orders.*", "orders.created", true],
    ["orders.*", "orders.*", true],
    ["orders.*", "orders.**", false],
    ["orders.*", "orders.eu.created", false],
    ["orders.*", "orders", false],
    ["orders.**", "orders.*", true],
    ["orders.**", "orders.eu.created", true],
    ["orders.**", "orders.**", true],
    ["orders.**", "orders.eu.**", true],
    ["orders.**", "orders.*.created", true],
    ["orders.**", "orders", false],
    ["orders.**", "payments.created", false],
    ["orders.**", "**", false],
    ["*", "orders", true],
    ["*", "*", true],
    ["*", "orders.created", false],
    ["*", "**", false],
    ["**", "orders", true],
    ["**", "orders.eu.created", true],
    ["**", "*", true],
    ["**", "*.created", true],
    ["**", "**", true],
    ["*.created", "orders.created", true],
    ["*.created", "*.created", true],
    ["*.created", "orders.*", false],
    ["*.*", "orders.*", true],
    ["*.**", "**", false],
    ["*.**", "orders.**", true],
    ["orders.*.created", "orders.eu.created", true],
    ["orders.*.created", "orders.*.*", false],
  ])("grant %j covers %j: %s", (grant, requested, expected) => {
    expect(patternCovers(grant, requested)).toBe(expected);
    // Cross-check against matching: a cover means every sample topic requested matches is matched by the grant.
    const g = compileTopicPattern(grant);
    const r = compileTopicPattern(requested);
    const samples = ["orders", "orders.created", "orders.eu", "orders.eu.created", "payments.created", "a.b.c.d", "orders.x.y"];
    if (expected) for (const t of samples) if (r.matches(t)) expect(g.matches(t)).toBe(true);
  });
});
