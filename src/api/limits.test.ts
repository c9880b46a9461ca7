import { describe, expect, it } from "vitest";
import { jsonDepthExceeds, RateLimiter } from "./limits.js";

describe("jsonDepthExceeds", () => {
  it.each([
    ["1", 2, false],
    ["[[1]]", 2, false],
    ["[[[1]]]", 2, true],
    ['{"a":{"b":{}}}', 2, true],
    ['{"a":{"b":1},"c":{"d":2}}', 2, false],
    ['["[[[[[[", "{{{{"]', 2, false],
    ['["\\"[[[[[[", 1]', 2, false],
    ['["\\\\", [[[1]]]]', 3, true],
    ['["\\\\\\"[[[[", 1]', 2, false],
    ['"unterminated [[[[[[[', 2, false],
    ["[".repeat(100_000), 64, true],
    ["]]]]]][[[", 2, false],
    // Few brackets in all (the count alone decides), or many only in strings or side by side (the pass decides).
    ['{"a":[1],"b":"xyz"}', 2, false],
    ['{"a":[{}]}', 2, true],
    ['{"a":"[[[[[{{{{{"}', 2, false],
    ['[{},{},[],{"a":[]},{}]', 3, false],
    ['[{},{},[],{"a":[{}]},{}]', 3, true],
  ] as const)("%s (max %i) → %s", (text, max, expected) => {
    expect(jsonDepthExceeds(text, max)).toBe(expected);
  });
});

describe("RateLimiter", () => {
  it("grants the capacity at once, then refills at the rate, per key", () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(4, () => now);
    expect([0, 1, 2, 3].map(() => limiter.take("a"))).toEqual([0, 0, 0, 0]);
    expect(limiter.take("a")).toBe(1);
    expect(limiter.take("b")).toBe(0);
    now += 250;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
  });

  it("says how many seconds to wait when the rate is under one a second", () => {
    let now = 0;
    const limiter = new RateLimiter(1, () => now);
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
    now += 500;
    expect(limiter.take("a")).toBe(1);
  });

  it("drops buckets that have refilled in a sweep", () => {
    let now = 0;
    const limiter = new RateLimiter(10, () => now);
    limiter.take("a");
    limiter.take("b");
    for (let i = 0; i < 10; i++) limiter.take("c");
    now += 500;
    limiter.sweep();
    expect(limiter.size).toBe(1); // c still owes tokens
    now += 1000;
    limiter.sweep();
    expect(limiter.size).toBe(0);
  });
});
