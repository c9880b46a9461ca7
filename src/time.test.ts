import { describe, expect, it } from "vitest";
import { formatTime, parseTime } from "./time.js";

const JAN_1_2025 = Date.UTC(2025, 0, 1); // 1735689600000
const HOUR = 3_600_000;

describe("parseTime", () => {
  const valid: Array<[input: string | number, expected: number]> = [
    // RFC 3339
    ["2025-01-01T00:00:00Z", JAN_1_2025],
    ["2025-01-01t00:00:00z", JAN_1_2025],
    ["2025-06-15T12:34:56Z", Date.UTC(2025, 5, 15, 12, 34, 56)],
    ["2025-01-01T00:00Z", JAN_1_2025],
    ["2025-01-01T00:00:00+01:00", JAN_1_2025 - HOUR],
    ["2025-01-01T00:00:00-05:30", JAN_1_2025 + 5.5 * HOUR],
    ["2025-01-01T00:00:00+0100", JAN_1_2025 - HOUR],
    ["2025-01-01T00:00:00+00:00", JAN_1_2025],
    ["2025-01-01T00:00:00.5Z", JAN_1_2025 + 500],
    ["2025-01-01T00:00:00.123Z", JAN_1_2025 + 123],
    ["2025-01-01T00:00:00.009Z", JAN_1_2025 + 9],
    ["2025-01-01T00:00:00.123456789Z", JAN_1_2025 + 123],
    ["2025-01-01T00:00:00.999999Z", JAN_1_2025 + 999],
    ["2025-01-01T00:00:00.25+02:00", JAN_1_2025 - 2 * HOUR + 250],
    ["2025-01-01T23:59:60Z", Date.UTC(2025, 0, 1, 23, 59, 59)], // a leap second folds into :59
    // Without a zone: UTC
    ["2025-01-01T00:00:00", JAN_1_2025],
    ["2006-01-02 15:04:05", Date.UTC(2006, 0, 2, 15, 4, 5)],
    ["2006-01-02 15:04:05Z", Date.UTC(2006, 0, 2, 15, 4, 5)],
    // Date alone
    ["2006-01-02", Date.UTC(2006, 0, 2)],
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2000-02-29", Date.UTC(2000, 1, 29)],
    ["  2025-01-01  ", JAN_1_2025],
    // Years below 100 are not 19xx: Go's zero time
    ["0001-01-01T00:00:00Z", -62135596800000],
    ["0099-12-31", -59011545600000],
    // Epoch seconds and milliseconds, as numbers and digit strings
    [1735689600, JAN_1_2025],
    [1735689600000, JAN_1_2025],
    [1735689600.5, JAN_1_2025 + 500],
    ["1735689600", JAN_1_2025],
    ["1735689600000", JAN_1_2025],
    ["1735689600.25", JAN_1_2025 + 250],
    [0, 0],
    ["0", 0],
    [99_999_999_999, 99_999_999_999_000], // the largest seconds value
    [100_000_000_000, 100_000_000_000], // the smallest milliseconds value
    // URL-encoded once and twice
    ["2025-01-01T00%3A00%3A00Z", JAN_1_2025],
    ["2025-01-01T00%253A00%253A00Z", JAN_1_2025],
    ["2025-01-01T00%3A00%3A00%2B01%3A00", JAN_1_2025 - HOUR],
    ["2025-01-01T00%253A00%253A00%252B01%253A00", JAN_1_2025 - HOUR],
    ["2006-01-02%2015%3A04%3A05", Date.UTC(2006, 0, 2, 15, 4, 5)],
    // A '+' offset that arrived as a space (unencoded '+' in a query string)
    ["2025-01-01T00:00:00 01:00", JAN_1_2025 - HOUR],
    ["2025-01-01T00:00:00.5 0100", JAN_1_2025 - HOUR + 500],
    ["2025-01-01T00:00:00%2001:00", JAN_1_2025 - HOUR],
  ];

  it.each(valid)("parses %j", (input, expected) => {
    expect(parseTime(input)).toBe(expected);
  });

  const invalid: unknown[] = [
    "",
    "   ",
    "garbage",
    "2025-13-01",
    "2025-00-10",
    "2025-02-30",
    "2023-02-29",
    "1900-02-29",
    "2025-04-31",
    "2025-01-00",
    "2025-01-32",
    "2025-01-01T24:00:00Z",
    "2025-01-01T12:60:00Z",
    "2025-01-01T12:00:61Z",
    "2025-01-01T00:00:00+24:00",
    "2025-01-01T00:00:00+01:60",
    "2025-01-01T00:00:00 PST",
    "2025-1-1",
    "25-01-01",
    "2025/01/01",
    "2025-01-01T",
    "2025-01-01T00:00:00.Z",
    "2025-01-01T00:00:00.1234567890Z",
    "1e3",
    "0x10",
    "-1",
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    253402300800000, // after 9999-12-31
    "%E0%A4%A", // malformed percent-encoding
    `2025-01-01T00:00:00${" ".repeat(50)}Z`, // would parse, but longer than 64 characters
    null,
    undefined,
    true,
    {},
    ["2025-01-01"],
  ];

  it.each(invalid)("rejects %j", (input) => {
    expect(parseTime(input)).toBeUndefined();
  });

  it("decodes at most twice", () => {
    expect(parseTime("2025-01-01T00%25253A00%25253A00Z")).toBeUndefined();
  });
});

describe("formatTime", () => {
  it("writes RFC 3339 in UTC with milliseconds, which parseTime reads back", () => {
    expect(formatTime(JAN_1_2025 + 7)).toBe("2025-01-01T00:00:00.007Z");
    expect(parseTime(formatTime(1_700_000_000_123))).toBe(1_700_000_000_123);
  });
});
