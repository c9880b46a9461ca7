import { describe, expect, it } from "vitest";
import { LATENCY_LABELS, type DeliveryStatsBucket, type EventStatsBucket } from "../../store/rollups.js";
import type { JsonBytes } from "./json-bytes.js";
import { deliveryStatsJson, eventStatsJson } from "./stats.js";

/** The pieces' text, checked to be UTF-8 of the length they declare, each piece under V8's large-object size. */
function text(json: JsonBytes): string {
  const bytes = Buffer.concat(json.chunks);
  expect(bytes.length).toBe(json.byteLength);
  for (const chunk of json.chunks) expect(chunk.length).toBeLessThan(128 * 1024);
  const decoded = bytes.toString("utf8");
  expect(Buffer.from(decoded, "utf8").equals(bytes)).toBe(true);
  return decoded;
}

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
    for (const list of [[], buckets.slice(0, 1), buckets]) expect(text(deliveryStatsJson(list))).toBe(asObjects(list));
    expect(
      Object.keys((JSON.parse(text(deliveryStatsJson(buckets))) as { buckets: Array<{ latency_ms: { histogram: object } }> }).buckets[0]!.latency_ms.histogram),
    ).toEqual(LATENCY_LABELS);
  });
});

describe("deliveryStatsJson in pieces", () => {
  it("writes a long reply as several pieces whose bytes are the same text", () => {
    // 10,000 buckets (the most a request may ask for), about 2 MB: many pieces, with a piece's end anywhere in a bucket.
    const buckets: DeliveryStatsBucket[] = Array.from({ length: 10_000 }, (_, i) => ({
      t: Date.UTC(2026, 0, 1) + i * 60_000,
      delivered: i * 7919,
      failed: i % 13,
      dead: i % 29 === 0 ? 1 : 0,
      latencySumMs: i * 12.25,
      latencyCounts: LATENCY_LABELS.map((_, j) => (i * j) % 1000),
    }));
    for (const n of [1440, 10_000]) {
      const json = deliveryStatsJson(buckets.slice(0, n));
      expect(json.chunks.length).toBeGreaterThan(n === 1440 ? 5 : 40);
      expect(text(json)).toBe(asObjects(buckets.slice(0, n)));
    }
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
      for (const list of [[], buckets.slice(0, 1), buckets]) expect(text(eventStatsJson(list))).toBe(eventsAsObjects(list));
    }
    expect((JSON.parse(text(eventStatsJson(byBoth))) as { buckets: EventStatsBucket[] }).buckets[1]).toEqual({
      ...byBoth[1],
      t: new Date(times[0]!).toISOString(),
    });
  });
});

describe("eventStatsJson in pieces", () => {
  it("encodes as UTF-8 the pieces holding texts past ASCII, and as they are the others", () => {
    // Grouped by topic, 1,440 minutes × 4 topics: pieces of ASCII topics only, and pieces with "é" or an emoji in them.
    const topics = ["orders.created", "commandes.créées", "orders.\u{1F4E6}", 'quo"te'];
    const buckets: EventStatsBucket[] = Array.from({ length: 1440 * 4 }, (_, i) => ({
      t: Date.UTC(2026, 0, 1) + Math.floor(i / 4) * 60_000,
      topic: topics[i < 2880 ? (i % 2) * 3 : i % 4]!,
      count: i,
      bytes: i * 200,
    }));
    const json = eventStatsJson(buckets);
    expect(json.chunks.length).toBeGreaterThan(3);
    expect(text(json)).toBe(eventsAsObjects(buckets));
  });
});
