// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { quantile, type DeliveryBucket } from "./stats";

const bucket = (histogram: Record<string, number>): DeliveryBucket => ({ t: "", delivered: 0, failed: 0, dead: 0, latency_ms: { sum: 0, histogram } });

describe("quantile", () => {
  it("gives the upper bound of the histogram bucket where the quantile falls", () => {
    const b = bucket({ "10": 40, "25": 50, "50": 8, "100": 2, "+Inf": 0 });
    expect(quantile(b, 0.5)).toBe(25);
    expect(quantile(b, 0.4)).toBe(10);
    expect(quantile(b, 0.9)).toBe(25);
    expect(quantile(b, 0.95)).toBe(50);
    expect(quantile(b, 0.99)).toBe(100);
  });

  it("is null for a minute without attempts, and past the last bound", () => {
    expect(quantile(undefined, 0.5)).toBeNull();
    expect(quantile(bucket({ "10": 0, "+Inf": 0 }), 0.5)).toBeNull();
    expect(quantile(bucket({ "10": 1, "+Inf": 9 }), 0.5)).toBeNull();
  });
});
