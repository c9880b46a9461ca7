import { describe, expect, it } from "vitest";
import { LATENCY_LABELS, type DeliveryStatsBucket } from "../../store/rollups.js";
import { deliveryStatsJson } from "./stats.js";

/** The reply as objects, serialised: what the route answered before it wrote the text itself. */
function asObjects(buckets: DeliveryStatsBucket[]): string {
  return JSON.stringify({
    buckets: buckets.map((b) => ({
      t: new Date(b.t).toISOString(),
      delivered: b.delivered,
      failed: b.failed,
      dead: b.dead,
      latency_ms: { sum: b.latencySumMs, histogram: Object.fromEntries(LATENCY_LABELS.map((le, i) => [le, b.latencyCounts[i]])) },
    })),
  });
}

describe("deliveryStatsJson", () => {
  it("writes the same text as the buckets built as objects and serialised", () => {
    const sums = [0, 1, 12.5, 0.1 + 0.2, 1234567.891, 1e21, 5e-7, 2 ** 53];
    const buckets: DeliveryStatsBucket[] = sums.map((sum, i) => ({
      // Minutes across days, before 1970, past 9999, and a time off the minute.
      t: i === 7 ? Date.UTC(2026, 0, 1, 0, 0, 1, 5) : Date.UTC([1969, 12026][i - 5] ?? 2026, 0, 1) + i * 60_000 * 337,
      delivered: i * 1000,
      failed: i % 3,
      dead: i === 4 ? 2 ** 40 : 0,
      latencySumMs: sum,
      latencyCounts: LATENCY_LABELS.map((_, j) => (i * 7 + j * 13) % 11),
    }));
    for (const list of [[], buckets.slice(0, 1), buckets]) expect(deliveryStatsJson(list)).toBe(asObjects(list));
    expect(
      Object.keys((JSON.parse(deliveryStatsJson(buckets)) as { buckets: Array<{ latency_ms: { histogram: object } }> }).buckets[0]!.latency_ms.histogram),
    ).toEqual(LATENCY_LABELS);
  });
});
