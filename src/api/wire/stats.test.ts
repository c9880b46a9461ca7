import { describe, expect, it } from "vitest";
import { LATENCY_LABELS, type DeliveryStatsBucket, type EventStatsBucket } from "../../store/rollups.js";
import { deliveryStatsJson, eventStatsJson } from "./stats.js";

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

/** The event reply as objects, serialised: what the route answered before it wrote the text itself. */
function eventsAsObjects(buckets: EventStatsBucket[]): string {
  return JSON.stringify({
    buckets: buckets.map((b) => ({
      t: new Date(b.t).toISOString(),
      ...(b.topic !== undefined && { topic: b.topic }),
      ...(b.type !== undefined && { type: b.type }),
      count: b.count,
      bytes: b.bytes,
    })),
  });
}

describe("eventStatsJson", () => {
  it("writes the same text as the buckets built as objects and serialised, grouped or not", () => {
    // Minutes across days, before 1970, past 9999, and a time off the minute.
    const times = [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
      i === 7 ? Date.UTC(2026, 0, 1, 0, 0, 1, 5) : Date.UTC([1969, 12026][i - 5] ?? 2026, 0, 1) + i * 60_000 * 337,
    );
    const texts = ["orders", 'quo"te\\ é \u2028 \u0001', "", "orders"];
    const counts = [0, 1, 2 ** 40, 2 ** 53];
    const plain: EventStatsBucket[] = times.map((t, i) => ({ t, count: counts[i % 4]!, bytes: i * 1000 }));
    const byTopic = plain.flatMap((b) => texts.slice(0, 3).map((topic) => ({ ...b, topic })));
    const byType = plain.map((b, i) => ({ ...b, type: texts[i % 4]! }));
    const byBoth = byTopic.map((b, i) => ({ ...b, type: texts[(i + 1) % 4]! }));
    for (const buckets of [plain, byTopic, byType, byBoth]) {
      for (const list of [[], buckets.slice(0, 1), buckets]) expect(eventStatsJson(list)).toBe(eventsAsObjects(list));
    }
    expect((JSON.parse(eventStatsJson(byBoth)) as { buckets: EventStatsBucket[] }).buckets[1]).toEqual({ ...byBoth[1], t: new Date(times[0]!).toISOString() });
  });
});
