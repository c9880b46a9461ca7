import { describe, expect, it } from "vitest";
import { newEventId, ulid, ulidTime } from "./ids.js";

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function expectStrictlyIncreasing(ids: string[]): void {
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i - 1]! < ids[i]!)) expect.fail(`ids[${i - 1}] ${ids[i - 1]} is not below ids[${i}] ${ids[i]}`);
  }
}

/** The time part of a ULID, computed independently: base 32 digits mapped onto Crockford's alphabet. */
function timePart(ms: number): string {
  const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  return [...ms.toString(32).padStart(10, "0")].map((d) => crockford[parseInt(d, 32)]).join("");
}

// ulid() keeps per-process state (the last millisecond used), so each test uses times later than the one before.
describe("ulid", () => {
  it("matches the time encoding of the ULID specification", () => {
    expect(ulid(1469918176385).slice(0, 10)).toBe("01ARYZ6S41");
  });

  it("is 26 Crockford base32 characters", () => {
    const id = ulid(1_700_000_000_000);
    expect(id).toHaveLength(26);
    expect(id).toMatch(CROCKFORD);
    expect(ulid()).toMatch(CROCKFORD);
  });

  it("encodes the time in the first 10 characters", () => {
    expect(ulid(1_800_000_000_000).slice(0, 10)).toBe(timePart(1_800_000_000_000));
    expect(ulid(1_800_000_000_031).slice(0, 10)).toBe(timePart(1_800_000_000_031));
  });

  it("increases strictly within one millisecond", () => {
    const t = 1_800_000_001_000;
    const ids = Array.from({ length: 5000 }, () => ulid(t));
    expectStrictlyIncreasing(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => ulidTime(id) === t)).toBe(true);
  });

  it("adds exactly one to the 80-bit random part within one millisecond, across carries of its last digits", () => {
    const t = 1_800_000_001_500;
    const randomPart = (id: string) => [...id.slice(10)].reduce((n, c) => n * 32n + BigInt("0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(c)), 0n);
    const ids = Array.from({ length: 40_000 }, () => ulid(t));
    for (let i = 1; i < ids.length; i++) {
      const step = (randomPart(ids[i]!) - randomPart(ids[i - 1]!) + 2n ** 80n) % 2n ** 80n;
      if (step !== 1n) expect.fail(`ids[${i - 1}] ${ids[i - 1]} to ids[${i}] ${ids[i]}: the random part moved by ${step}`);
    }
  });

  it("increases strictly across milliseconds", () => {
    const t = 1_800_000_002_000;
    const ids: string[] = [];
    for (let ms = 0; ms < 50; ms++) for (let i = 0; i < 20; i++) ids.push(ulid(t + ms));
    expectStrictlyIncreasing(ids);
  });

  it("stays increasing when the clock steps back", () => {
    const t = 1_800_000_003_000;
    const before = ulid(t);
    const after = ulid(t - 500);
    expect(after > before).toBe(true);
    expect(ulidTime(after)).toBe(t);
  });
});

describe("ulidTime", () => {
  it("round-trips the time of a ULID", () => {
    for (const t of [1_800_000_004_000, 1_800_000_004_001, 1_900_000_000_000, 2 ** 41]) {
      expect(ulidTime(ulid(t))).toBe(t);
    }
  });

  it("reads a prefixed id", () => {
    const id = newEventId(2_300_000_000_000);
    expect(id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(ulidTime(id)).toBe(2_300_000_000_000);
  });

  it.each([
    "",
    "evt_",
    "01ARZ3NDEKTSV4RRFFQ69G5FA", // 25 characters
    "01ARZ3NDEKTSV4RRFFQ69G5FAVX", // 27 characters
    "01ARZ3NDEKTSV4RRFFQ69G5FAI", // I is not Crockford
    "01ARZ3NDEKTSV4RRFFQ69G5FAU", // nor U
    "01arz3ndektsv4rrffq69g5fav", // lower case
    "order-42",
  ])("is undefined for %j", (id) => {
    expect(ulidTime(id)).toBeUndefined();
  });
});
