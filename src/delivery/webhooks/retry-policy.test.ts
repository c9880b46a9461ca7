import { describe, expect, it } from "vitest";
import { HubError } from "../../errors.js";
import { DEFAULT_RETRY_SCHEDULE_S, nextDelayMs, parseRetryAfter, parseRetrySchedule } from "./retry-policy.js";

describe("DEFAULT_RETRY_SCHEDULE_S", () => {
  it("is immediately, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h", () => {
    expect(DEFAULT_RETRY_SCHEDULE_S).toEqual([0, 5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200]);
    expect(Object.isFrozen(DEFAULT_RETRY_SCHEDULE_S)).toBe(true);
  });

  it("gives ten attempts in total", () => {
    const attempts: number[] = [];
    for (let made = 0; nextDelayMs(DEFAULT_RETRY_SCHEDULE_S, made, () => 0.5) !== undefined; made++) attempts.push(made + 1);
    expect(attempts).toHaveLength(10);
    expect(nextDelayMs(DEFAULT_RETRY_SCHEDULE_S, 10)).toBeUndefined();
  });
});

describe("parseRetrySchedule", () => {
  it.each([
    [{ schedule: [0, 5, 30] }, [0, 5, 30]],
    [
      [1.5, 0.25],
      [1.5, 0.25],
    ],
    [[0], [0]],
    [[604800], [604800]],
    [Array.from({ length: 50 }, (_, i) => i), Array.from({ length: 50 }, (_, i) => i)],
  ])("accepts %j", (input, expected) => {
    expect(parseRetrySchedule(input)).toEqual(expected);
  });

  it("returns a copy", () => {
    const input = [1, 2];
    const out = parseRetrySchedule(input);
    out.push(3);
    expect(input).toEqual([1, 2]);
  });

  it.each([
    [[0, 5, -1], "schedule[2]"],
    [[0, Number.NaN], "schedule[1]"],
    [[Number.POSITIVE_INFINITY], "schedule[0]"],
    [[604801], "schedule[0]"],
    [[0, "5"], "schedule[1]"],
    [[null], "schedule[0]"],
    [[], "1 to 50 entries"],
    [Array.from({ length: 51 }, () => 1), "got 51"],
    [{ schedule: "0,5" }, "must be an array"],
    [{}, "must be an array"],
    [{ schedule: [1], max: 3 }, 'unknown key "max"'],
    [5, "must be an array"],
    [null, "must be an array"],
    [undefined, "must be an array"],
  ])("refuses %j with SB_SUBSCRIPTION_INVALID naming %s", (input, mention) => {
    let caught: unknown;
    try {
      parseRetrySchedule(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HubError);
    expect((caught as HubError).code).toBe("SB_SUBSCRIPTION_INVALID");
    expect((caught as HubError).status).toBe(400);
    expect((caught as HubError).details).toContain(mention);
  });
});

describe("nextDelayMs", () => {
  const schedule = [0, 5, 30];

  it("takes the entry after the attempts made, in ms", () => {
    expect(nextDelayMs(schedule, 0, () => 0.5)).toBe(0);
    expect(nextDelayMs(schedule, 1, () => 0.5)).toBe(5000);
    expect(nextDelayMs(schedule, 2, () => 0.5)).toBe(30000);
    expect(nextDelayMs(schedule, 3, () => 0.5)).toBeUndefined();
  });

  it("applies ±20% uniform jitter", () => {
    expect(nextDelayMs(schedule, 1, () => 0)).toBe(4000);
    expect(nextDelayMs(schedule, 1, () => 0.25)).toBe(4500);
    expect(nextDelayMs(schedule, 1, () => 0.999999)).toBe(6000);
    expect(nextDelayMs(schedule, 0, () => 0)).toBe(0);
  });

  it("stays within the jitter bounds with the real random source and actually varies", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = nextDelayMs(schedule, 2)!;
      expect(d).toBeGreaterThanOrEqual(24000);
      expect(d).toBeLessThanOrEqual(36000);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it("keeps fractions of a second", () => {
    expect(nextDelayMs([0.25], 0, () => 0.5)).toBe(250);
  });

  it.each([-1, 1.5, Number.NaN])("refuses attemptsMade %s", (made) => {
    expect(() => nextDelayMs(schedule, made)).toThrow(RangeError);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 0);

  it.each<[string | undefined, number | undefined]>([
    [undefined, undefined],
    ["", undefined],
    ["7", 7000],
    [" 120 ", 120000],
    ["0", 0],
    ["86400", 86400000],
    ["86401", 86400000],
    ["99999999999999999999", 86400000],
    ["-5", undefined],
    ["1.5", undefined],
    ["soon", undefined],
    ["Wed, 15 Jan 2025 12:00:30 GMT", 30000],
    ["Wed, 15 Jan 2025 11:00:00 GMT", 0],
    ["Fri, 17 Jan 2025 12:00:00 GMT", 86400000],
    ["Wednesday, 15-Jan-25 12:01:00 GMT", 60000],
    ["Wed Jan 15 12:00:10 2025", 10000],
    ["Wed Jan  5 12:00:10 2025", 0],
    ["Wed, 31 Feb 2025 12:00:00 GMT", undefined],
    ["Wed, 15 Foo 2025 12:00:30 GMT", undefined],
    ["Wed, 15 Jan 2025 25:00:00 GMT", undefined],
    ["Wed, 15 Jan 2025 12:00:30 +0100", undefined],
    ["2025-01-15T12:00:30Z", undefined],
  ])("parseRetryAfter(%j) is %s", (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});
