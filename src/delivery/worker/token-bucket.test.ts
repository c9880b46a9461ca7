import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  // [rate, takes at these times (ms), expected results]
  const table: [number | null, number[], boolean[]][] = [
    [null, [0, 0, 0, 0], [true, true, true, true]],
    [2, [0, 0, 0], [true, true, false]],
    [2, [0, 0, 499, 500], [true, true, false, true]],
    [0.5, [0, 1_000, 1_000, 3_000], [false, true, false, true]], // starts with `rate` tokens: half of one
    [1, [0, 10_000, 10_000], [true, true, false]], // bursts never exceed max(1, rate)
  ];
  it.each(table)("rate %s: takes at %j", (rate, times, expected) => {
    const bucket = new TokenBucket(rate, 0);
    expect(times.map((t) => bucket.take(t))).toEqual(expected);
  });

  it("says when the next token comes, and takes one given back", () => {
    const bucket = new TokenBucket(4, 0);
    for (let i = 0; i < 4; i++) bucket.take(0);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.nextTokenAt(0)).toBe(250);
    bucket.giveBack();
    expect(bucket.nextTokenAt(0)).toBeUndefined();
    expect(bucket.take(0)).toBe(true);
    expect(new TokenBucket(null, 0).nextTokenAt(0)).toBeUndefined();
  });
});
