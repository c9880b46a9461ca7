/** Store conformance: rollups (event and delivery minutes at commit, hours and days derived, retention). */
import { beforeEach, describe, expect, it } from "vitest";
import type { AttemptRecord, Store } from "../../../src/store/store.js";
import { append, makeEvent, makeSubscription, minutes, T0, type SuiteState } from "./helpers.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;
const NO_RETENTION = { minuteRetentionMs: 0, hourRetentionMs: 0, dayRetentionMs: 0 };

/** Registers the rollups tests; `state` holds the store of the running test. */
export function rollupsConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
  });

  describe("rollups", () => {
    it("counts events and their data bytes per topic, type and minute, at commit, in batches of several requests", async () => {
      const data = { note: "é" }; // 13 bytes of UTF-8 as JSON text
      const outcomes = await store.events.append([
        {
          events: [
            makeEvent("orders.created", { type: "a", data, receivedAt: minutes(0) }),
            makeEvent("orders.created", { type: "a", data, receivedAt: minutes(0) + 59_999 }),
          ],
          createTopics: true,
        },
        { events: [makeEvent("orders.paid", { data, receivedAt: minutes(1) })], createTopics: false }, // no such topic: not counted
        { events: [makeEvent("orders.paid", { type: "b", data, receivedAt: minutes(1) })], createTopics: true },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
      await append(store, [makeEvent("users", { data, receivedAt: minutes(2) })]);
      const all = { from: T0, to: minutes(10), intervalMs: 60_000 };
      expect(await store.rollups.eventStats(all)).toEqual([
        { t: minutes(0), count: 2, bytes: 26 },
        { t: minutes(1), count: 1, bytes: 13 },
        { t: minutes(2), count: 1, bytes: 13 },
      ]);
      expect(await store.rollups.eventStats({ ...all, topicPrefixes: ["orders."], groupBy: ["topic"] })).toEqual([
        { t: minutes(0), topic: "orders.created", count: 2, bytes: 26 },
        { t: minutes(1), topic: "orders.paid", count: 1, bytes: 13 },
      ]);
      expect(await store.rollups.eventStats({ ...all, intervalMs: 5 * 60_000, groupBy: ["type"] })).toEqual([
        { t: T0, type: "", count: 1, bytes: 13 },
        { t: T0, type: "a", count: 2, bytes: 26 },
        { t: T0, type: "b", count: 1, bytes: 13 },
      ]);
      expect(await store.rollups.eventStats({ ...all, topics: ["users"], type: "" })).toEqual([{ t: minutes(2), count: 1, bytes: 13 }]);
      expect(await store.rollups.eventStats({ ...all, topics: ["orders.paid"], topicPrefixes: ["user"], groupBy: ["topic", "type"] })).toEqual([
        { t: minutes(1), topic: "orders.paid", type: "b", count: 1, bytes: 13 },
        { t: minutes(2), topic: "users", type: "", count: 1, bytes: 13 },
      ]);
      expect(await store.rollups.eventStats({ ...all, from: minutes(1), to: minutes(2) })).toEqual([{ t: minutes(1), count: 1, bytes: 13 }]);
    });

    it("sums every topic per minute and type, across the topics of a batch and across batches, apart from each topic's own", async () => {
      await append(store, [
        makeEvent("a", { type: "x", data: {}, receivedAt: minutes(0) }),
        makeEvent("b", { type: "x", data: {}, receivedAt: minutes(0) + 1 }),
        makeEvent("b", { type: "y", data: {}, receivedAt: minutes(0) + 2 }),
        makeEvent("a", { type: "x", data: {}, receivedAt: minutes(1) }),
      ]);
      await append(store, [makeEvent("c", { type: "x", data: {}, receivedAt: minutes(0) + 3 })]);
      const all = { from: T0, to: minutes(10), intervalMs: 60_000 };
      expect(await store.rollups.eventStats(all)).toEqual([
        { t: minutes(0), count: 4, bytes: 8 },
        { t: minutes(1), count: 1, bytes: 2 },
      ]);
      expect(await store.rollups.eventStats({ ...all, groupBy: ["type"] })).toEqual([
        { t: minutes(0), type: "x", count: 3, bytes: 6 },
        { t: minutes(0), type: "y", count: 1, bytes: 2 },
        { t: minutes(1), type: "x", count: 1, bytes: 2 },
      ]);
      expect(await store.rollups.eventStats({ ...all, type: "x", intervalMs: HOUR })).toEqual([{ t: T0, count: 4, bytes: 8 }]);
      expect(await store.rollups.eventStats({ ...all, groupBy: ["topic"] })).toEqual([
        { t: minutes(0), topic: "a", count: 1, bytes: 2 },
        { t: minutes(0), topic: "b", count: 2, bytes: 4 },
        { t: minutes(0), topic: "c", count: 1, bytes: 2 },
        { t: minutes(1), topic: "a", count: 1, bytes: 2 },
      ]);
    });

    it("reads topics and types holding quotes, backslashes and dollars as they are written", async () => {
      const topic = "it's\\ $1";
      const type = "'; SELECT 1; --\\'";
      await append(store, [makeEvent(topic, { type, data: {}, receivedAt: minutes(0) }), makeEvent("other", { type, data: {}, receivedAt: minutes(0) })]);
      const all = { from: T0, to: minutes(10), intervalMs: 60_000 };
      expect(await store.rollups.eventStats({ ...all, topics: [topic], type, groupBy: ["topic", "type"] })).toEqual([
        { t: T0, topic, type, count: 1, bytes: 2 },
      ]);
      expect(await store.rollups.eventStats({ ...all, topicPrefixes: ["it'"] })).toEqual([{ t: T0, count: 1, bytes: 2 }]);
      expect(await store.rollups.eventStats({ ...all, type })).toEqual([{ t: T0, count: 2, bytes: 4 }]);
    });

    it("adds to a minute across batches, and counts a repeated client id once", async () => {
      await append(store, [makeEvent("orders", { id: "client-1", clientId: true, data: {}, receivedAt: minutes(3) })]);
      await append(store, [makeEvent("orders", { id: "client-1", clientId: true, data: {}, receivedAt: minutes(3) })]);
      await append(store, [makeEvent("orders", { data: {}, receivedAt: minutes(3) + 10 })], { idempotencyKey: "k" });
      await append(store, [makeEvent("orders", { data: {}, receivedAt: minutes(3) + 10 })], { idempotencyKey: "k" });
      expect(await store.rollups.eventStats({ from: T0, to: minutes(10), intervalMs: 60_000 })).toEqual([{ t: minutes(3), count: 2, bytes: 4 }]);
    });

    it("counts attempts per subscription and minute by outcome, with a latency histogram", async () => {
      await store.subscriptions.create(makeSubscription("sub_a"));
      await store.subscriptions.create(makeSubscription("sub_b", { url: "http://b.example/hook" }));
      const add = (subscriptionId: string, ids: string[]) =>
        store.deliveries.add({
          subscriptionId,
          deliveries: ids.map((id, i) => ({ id, subscriptionId, eventSeq: i + 1, eventId: `evt_${i}`, orderingKey: null, nextAttemptAt: T0 })),
          now: T0,
        });
      await add("sub_a", ["dlv_1", "dlv_2", "dlv_3"]);
      await add("sub_b", ["dlv_4"]);
      const attempt = (deliveryId: string, status: AttemptRecord["status"], latencyMs: number, attemptedAt = minutes(1)): AttemptRecord => ({
        deliveryId,
        // dlv_unknown names a subscription too: an attempt of an unknown delivery is left out all the same.
        subscriptionId: deliveryId === "dlv_4" ? "sub_b" : "sub_a",
        attemptedAt,
        statusCode: status === "delivered" ? 200 : 500,
        latencyMs,
        responseExcerpt: null,
        error: null,
        status,
        attempts: 1,
        nextAttemptAt: status === "retrying" ? minutes(5) : null,
      });
      await store.deliveries.recordAttempts([
        attempt("dlv_1", "delivered", 5),
        attempt("dlv_2", "retrying", 30),
        attempt("dlv_2", "dead", 20_000, minutes(2)),
        attempt("dlv_4", "delivered", 10),
        attempt("dlv_unknown", "delivered", 10),
      ]);
      await store.deliveries.recordAttempts([attempt("dlv_3", "delivered", 100)]);
      const all = { from: T0, to: minutes(10), intervalMs: 60_000 };
      expect(await store.rollups.deliveryStats({ ...all, subscriptionId: "sub_a" })).toEqual([
        { t: minutes(1), delivered: 2, failed: 1, dead: 0, latencySumMs: 135, latencyCounts: [1, 0, 1, 1, 0, 0, 0, 0, 0, 0] },
        { t: minutes(2), delivered: 0, failed: 0, dead: 1, latencySumMs: 20_000, latencyCounts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
      ]);
      expect(await store.rollups.deliveryStats({ ...all, intervalMs: HOUR })).toEqual([
        { t: T0, delivered: 3, failed: 1, dead: 1, latencySumMs: 20_145, latencyCounts: [2, 0, 1, 1, 0, 0, 0, 0, 0, 1] },
      ]);
    });

    it("writes none with the rollups off, at commit or with attempts, and still stores the events and attempts", async () => {
      const off = await state.options.openWithoutRollups();
      try {
        await off.migrate();
        await append(off, [makeEvent("orders", { data: {}, receivedAt: minutes(0) })]); // one event: the fast path
        const outcomes = await off.events.append([
          { events: [makeEvent("orders", { data: {}, receivedAt: minutes(1) })], createTopics: true, idempotencyKey: "k1" },
          { events: [makeEvent("users", { data: {}, receivedAt: minutes(1) }), makeEvent("users", { data: {}, receivedAt: minutes(1) })], createTopics: true },
        ]);
        expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
        expect(await off.events.search({ topics: ["orders", "users"], order: "asc", limit: 10 })).toHaveLength(4);
        await off.subscriptions.create(makeSubscription("sub_a"));
        await off.deliveries.add({
          subscriptionId: "sub_a",
          deliveries: [{ id: "dlv_1", subscriptionId: "sub_a", eventSeq: 1, eventId: "evt_1", orderingKey: null, nextAttemptAt: T0 }],
          now: T0,
        });
        await off.deliveries.recordAttempts([
          {
            deliveryId: "dlv_1",
            subscriptionId: "sub_a",
            attemptedAt: minutes(1),
            statusCode: 200,
            latencyMs: 5,
            responseExcerpt: null,
            error: null,
            status: "delivered",
            attempts: 1,
            nextAttemptAt: null,
          },
        ]);
        expect((await off.deliveries.listAttempts("dlv_1")).map((a) => a.statusCode)).toEqual([200]);
        const all = { from: T0, to: minutes(10), intervalMs: 60_000 };
        expect(await off.rollups.eventStats(all)).toEqual([]);
        expect(await off.rollups.deliveryStats(all)).toEqual([]);
      } finally {
        await off.close();
      }
    });

    it("derives hours and days from the minutes once closed, answers from them, and keeps each resolution for its retention", async () => {
      const at = [minutes(0), minutes(59), minutes(61), T0 + DAY + 5];
      for (const receivedAt of at) await append(store, [makeEvent("orders", { data: {}, receivedAt })]);
      const hours = { from: T0, to: T0 + 2 * DAY, intervalMs: HOUR };
      const days = { ...hours, intervalMs: DAY };
      const expectedHours = [
        { t: T0, count: 2, bytes: 4 },
        { t: T0 + HOUR, count: 1, bytes: 2 },
        { t: T0 + DAY, count: 1, bytes: 2 },
      ];
      const expectedDays = [
        { t: T0, count: 3, bytes: 6 },
        { t: T0 + DAY, count: 1, bytes: 2 },
      ];
      // Before any roll-up, from the minutes; after, from the hours and days, the same answer.
      expect(await store.rollups.eventStats(hours)).toEqual(expectedHours);
      expect(await store.rollups.eventStats(days)).toEqual(expectedDays);
      await store.rollups.rollUp({ now: T0 + DAY + HOUR, ...NO_RETENTION });
      await store.rollups.rollUp({ now: T0 + DAY + HOUR, ...NO_RETENTION }); // idempotent
      expect(await store.rollups.eventStats(hours)).toEqual(expectedHours);
      expect(await store.rollups.eventStats(days)).toEqual(expectedDays);
      // Minutes kept one hour, hours two days: the minutes of the first day go, the hours answer for them.
      await store.rollups.rollUp({ now: T0 + DAY + 30 * 60_000, minuteRetentionMs: HOUR, hourRetentionMs: 2 * DAY, dayRetentionMs: 0 });
      expect(await store.rollups.eventStats({ ...hours, intervalMs: 60_000 })).toEqual([{ t: T0 + DAY, count: 1, bytes: 2 }]);
      expect(await store.rollups.eventStats(hours)).toEqual(expectedHours);
      // Later the hours go too, but the days keep the counts.
      await store.rollups.rollUp({ now: T0 + 4 * DAY, minuteRetentionMs: HOUR, hourRetentionMs: HOUR, dayRetentionMs: 0 });
      expect(await store.rollups.eventStats(hours)).toEqual([]);
      expect(await store.rollups.eventStats(days)).toEqual(expectedDays);
      await store.rollups.rollUp({ now: T0 + 4 * DAY, minuteRetentionMs: HOUR, hourRetentionMs: HOUR, dayRetentionMs: DAY });
      expect(await store.rollups.eventStats(days)).toEqual([]);
    });
  });
}
