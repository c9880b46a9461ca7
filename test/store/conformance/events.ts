/** Store conformance: the event log: appends, reads, search and retention. */
import { beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../../../src/errors.js";
import type { NewEvent, Store } from "../../../src/store/store.js";
import { T0, append, clientEvent, expectFailed, expectOk, expectStrictlyIncreasing, makeEvent, minutes, persisted, type SuiteState } from "./helpers.js";

/** Registers the the event log: appends, reads, search and retention tests; `state` holds the store of the running test. */
export function eventsConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
  });

  describe("appendEvents", () => {
    it("answers an empty call with no outcomes", async () => {
      expect(await store.events.append([])).toEqual([]);
    });

    it("stores a request's events in order and answers with their ids, seqs and topics", async () => {
      const events = [
        makeEvent("orders", { type: "order.created", key: "k1", time: minutes(5) }),
        makeEvent("orders", { source: "shop", subject: "order/2", attributes: { region: "eu" } }),
        makeEvent("users", { data: null }),
      ];
      const out = await append(store, events);
      expect(out.replayed).toBe(false);
      expect(out.results.map((r) => [r.id, r.topic])).toEqual(events.map((e) => [e.id, e.topic]));
      const seqs = out.results.map((r) => r.seq);
      expectStrictlyIncreasing(seqs);
      expect(seqs[0]).toBeGreaterThan(0);
      expect(out.stored.map((e) => persisted(e))).toEqual(events.map((e, i) => persisted(e, seqs[i])));
      expect(await store.events.lastSeq()).toBe(seqs[2]);
    });

    it("group-commits several requests; a failing request fails alone and stores nothing", async () => {
      await store.topics.create({ name: "existing" }, T0);
      const a = [makeEvent("group.a"), makeEvent("group.a")];
      const b = [makeEvent("existing"), makeEvent("group.missing")];
      const c = [makeEvent("group.c")];
      const outcomes = await store.events.append([
        { events: a, createTopics: true },
        { events: b, createTopics: false },
        { events: c, createTopics: true },
      ]);
      expect(outcomes).toHaveLength(3);
      const okA = expectOk(outcomes[0]);
      const error = expectFailed(outcomes[1]);
      const okC = expectOk(outcomes[2]);
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe("SB_TOPIC_NOT_FOUND");
      expect(error.message).toContain("group.missing");

      // All or nothing: b's event on an existing topic was rolled back with the rest of b.
      expect(await store.events.get(b[0]!.id)).toBeUndefined();
      expect(await store.events.get(b[1]!.id)).toBeUndefined();
      expect(await store.topics.get("group.missing")).toBeUndefined();
      expect((await store.topics.get("existing"))?.eventCount).toBe(0);

      const seqs = [...okA.results, ...okC.results].map((r) => r.seq);
      expectStrictlyIncreasing(seqs);
      const log = await store.events.readAfter(0, 100);
      expect(log.map((e) => e.id)).toEqual([...a, ...c].map((e) => e.id));
      expect(log.map((e) => e.seq)).toEqual(seqs);
      expect(await store.events.lastSeq()).toBe(seqs.at(-1));
      expect((await store.topics.get("group.a"))?.eventCount).toBe(2);
      expect((await store.topics.get("group.c"))?.eventCount).toBe(1);
    });

    it("never hands out a seq twice, across failed requests and calls", async () => {
      const given: number[] = [];
      for (let round = 0; round < 3; round++) {
        const outcomes = await store.events.append([
          { events: [makeEvent("seq.a")], createTopics: true },
          { events: [makeEvent("seq.a"), makeEvent("seq.nowhere")], createTopics: false },
          { events: [makeEvent("seq.b"), makeEvent("seq.b")], createTopics: true },
        ]);
        expectFailed(outcomes[1]);
        for (const o of [outcomes[0], outcomes[2]]) given.push(...expectOk(o).results.map((r) => r.seq));
        const [alone] = await store.events.append([{ events: [makeEvent("seq.nowhere")], createTopics: false }]);
        expectFailed(alone);
      }
      const last = await append(store, [makeEvent("seq.c")]);
      given.push(last.results[0]!.seq);
      expectStrictlyIncreasing(given);
      expect((await store.events.readAfter(0, 100)).map((e) => e.seq)).toEqual(given);
      expect(await store.events.lastSeq()).toBe(given.at(-1));
    });

    it("answers a repeated client id with the first result and stores nothing", async () => {
      const first = await append(store, [clientEvent("order-1", "orders", { data: { v: 1 } })]);
      const seq = first.results[0]!.seq;
      expect(first.replayed).toBe(false);
      expect(first.stored).toHaveLength(1);

      const again = await append(store, [clientEvent("order-1", "orders", { data: { v: 2 }, receivedAt: T0 + 1000 })]);
      expect(again.results).toEqual([{ id: "order-1", seq, topic: "orders" }]);
      expect(again.stored).toEqual([]);
      expect(again.replayed).toBe(true);

      expect((await store.events.get("order-1"))?.data).toEqual({ v: 1 });
      expect(await store.events.lastSeq()).toBe(seq);
      expect(await store.events.readAfter(0, 10)).toHaveLength(1);
      const topic = await store.topics.get("orders");
      expect(topic?.eventCount).toBe(1);
      expect(topic?.lastEventAt).toBe(T0);
      expect(await store.stats()).toEqual({ events: 1, topics: 1 });
    });

    it("dedupes client ids within a request, across requests of one call, and alongside new events", async () => {
      const outcomes = await store.events.append([
        { events: [clientEvent("x", "orders"), clientEvent("x", "orders")], createTopics: true },
        { events: [clientEvent("x", "orders")], createTopics: true },
        { events: [clientEvent("x", "orders"), clientEvent("y", "orders")], createTopics: true },
      ]);
      const [one, two, three] = outcomes.map(expectOk);
      const seqX = one!.results[0]!.seq;
      expect(one!.results).toEqual([
        { id: "x", seq: seqX, topic: "orders" },
        { id: "x", seq: seqX, topic: "orders" },
      ]);
      expect(one!.stored.map((e) => e.id)).toEqual(["x"]);
      expect(two!.results).toEqual([{ id: "x", seq: seqX, topic: "orders" }]);
      expect(two!.stored).toEqual([]);
      expect(two!.replayed).toBe(true);
      expect(three!.results[0]).toEqual({ id: "x", seq: seqX, topic: "orders" });
      expect(three!.results[1]!.seq).toBeGreaterThan(seqX);
      expect(three!.stored.map((e) => e.id)).toEqual(["y"]);
      expect(three!.replayed).toBe(false);
      expect((await store.topics.get("orders"))?.eventCount).toBe(2);
    });

    it("answers a repeated client id with the topic it was first stored under", async () => {
      const first = await append(store, [clientEvent("moved", "orders")]);
      const again = await append(store, [clientEvent("moved", "users")]);
      expect(again.results).toEqual([{ id: "moved", seq: first.results[0]!.seq, topic: "orders" }]);
      expect((await store.events.get("moved"))?.topic).toBe("orders");
    });

    describe("repeats across publishers (auth on)", () => {
      it("replays a client id only for the publisher, topic and source that stored it", async () => {
        const first = await append(store, [clientEvent("pay-1", "payments.secret", { source: "/billing" })], { publisher: "key_admin" });
        const seq = first.results[0]!.seq;
        const same = await append(store, [clientEvent("pay-1", "payments.secret", { source: "/billing" })], { publisher: "key_admin" });
        expect(same.replayed).toBe(true);
        expect(same.results).toEqual([{ id: "pay-1", seq, topic: "payments.secret" }]);

        for (const [label, request] of [
          ["another publisher, the same topic", { events: [clientEvent("pay-1", "payments.secret", { source: "/billing" })], publisher: "key_orders" }],
          ["another publisher and topic", { events: [clientEvent("pay-1", "orders.x")], publisher: "key_orders" }],
          ["the same publisher, another topic", { events: [clientEvent("pay-1", "orders.x", { source: "/billing" })], publisher: "key_admin" }],
          ["the same publisher, another source", { events: [clientEvent("pay-1", "payments.secret", { source: "/other" })], publisher: "key_admin" }],
          ["in a batch beside a new event", { events: [clientEvent("fresh-1", "orders.x"), clientEvent("pay-1", "orders.x")], publisher: "key_orders" }],
        ] as const) {
          const [outcome] = await store.events.append([{ ...request, events: [...request.events], createTopics: true }]);
          const error = expectFailed(outcome);
          expect(error, label).toBeInstanceOf(HubError);
          expect((error as HubError).code, label).toBe("SB_EVENT_ID_CONFLICT");
          // Nothing about the stored event: not its seq, not its topic.
          expect(error.message, label).not.toContain("payments");
          expect(error.message.replaceAll('"pay-1"', ""), label).not.toMatch(/\d/);
        }
        expect(await store.events.get("fresh-1")).toBeUndefined();
        expect(await store.events.readAfter(0, 10)).toHaveLength(1);
        expect(await store.stats()).toEqual({ events: 1, topics: 1 });
      });

      it("refuses an id claimed first by another publisher: the later event is never answered as stored", async () => {
        await append(store, [clientEvent("ord-2000", "orders.x")], { publisher: "key_orders" });
        const [outcome] = await store.events.append([{ events: [clientEvent("ord-2000", "payments.secret")], publisher: "key_admin", createTopics: true }]);
        expect((expectFailed(outcome) as HubError).code).toBe("SB_EVENT_ID_CONFLICT");
        expect((await store.events.get("ord-2000"))?.topic).toBe("orders.x");
      });

      it("checks repeats within one request and one group commit the same way", async () => {
        const outcomes = await store.events.append([
          { events: [clientEvent("twice", "orders.x"), clientEvent("twice", "orders.x")], publisher: "key_a", createTopics: true },
          { events: [clientEvent("twice", "orders.x")], publisher: "key_b", createTopics: true },
          { events: [clientEvent("mixed", "orders.x"), clientEvent("mixed", "orders.y")], publisher: "key_a", createTopics: true },
          { events: [clientEvent("twice", "orders.x")], publisher: "key_a", createTopics: true },
        ]);
        const one = expectOk(outcomes[0]);
        expect(one.stored.map((e) => e.id)).toEqual(["twice"]);
        expect((expectFailed(outcomes[1]) as HubError).code).toBe("SB_EVENT_ID_CONFLICT");
        expect((expectFailed(outcomes[2]) as HubError).code).toBe("SB_EVENT_ID_CONFLICT");
        const four = expectOk(outcomes[3]);
        expect(four.replayed).toBe(true);
        expect(four.results).toEqual([one.results[0]]);
        expect(await store.events.get("mixed")).toBeUndefined();
      });

      it("keeps Idempotency-Keys per publisher", async () => {
        const victim = await append(store, [makeEvent("payments.secret")], { idempotencyKey: "victim-k1", publisher: "key_admin" });
        // Another credential's key of the same text is another key: a new event, nothing of the first shown.
        const other = await append(store, [makeEvent("orders.x")], { idempotencyKey: "victim-k1", publisher: "key_orders" });
        expect(other.replayed).toBe(false);
        expect(other.stored).toHaveLength(1);
        expect(other.results[0]!.topic).toBe("orders.x");
        // The first credential's repeat still replays its own results.
        const again = await append(store, [makeEvent("payments.secret")], { idempotencyKey: "victim-k1", publisher: "key_admin" });
        expect(again.replayed).toBe(true);
        expect(again.results).toEqual(victim.results);
        // Auth off is one more owner of its own.
        const open = await append(store, [makeEvent("orders.x")], { idempotencyKey: "victim-k1" });
        expect(open.replayed).toBe(false);
        expect(await store.events.readAfter(0, 10)).toHaveLength(3);
      });

      it("refuses an Idempotency-Key reused by its publisher for other topics", async () => {
        await append(store, [makeEvent("orders.x"), makeEvent("orders.y")], { idempotencyKey: "k", publisher: "key_a" });
        for (const events of [[makeEvent("orders.y"), makeEvent("orders.x")], [makeEvent("orders.x")], [makeEvent("payments.z"), makeEvent("orders.y")]]) {
          const [outcome] = await store.events.append([{ events, idempotencyKey: "k", publisher: "key_a", createTopics: true }]);
          expect((expectFailed(outcome) as HubError).code).toBe("SB_IDEMPOTENCY_KEY_CONFLICT");
        }
        expect(await store.events.readAfter(0, 10)).toHaveLength(2);
      });
    });

    it("imports (no publisher): keeps ids and times, gives new seqs, and skips ids stored already, whoever stored them", async () => {
      await append(store, [clientEvent("imp-owned", "import.a")], { publisher: "key_orders" });
      const exported = [
        clientEvent("imp-1", "import.a", { time: minutes(-600), type: "t", key: "k", attributes: { a: "1" } }),
        clientEvent("imp-owned", "import.a"),
        clientEvent("imp-2", "import.b", { time: minutes(-300), receivedAt: minutes(1) }),
      ];
      const first = await append(
        store,
        exported.map((e) => ({ ...e })),
      );
      expect(first.stored.map((e) => e.id)).toEqual(["imp-1", "imp-2"]);
      expect(first.replayed).toBe(false);
      expect(persisted((await store.events.get("imp-1"))!)).toEqual(persisted(exported[0]!, first.results[0]!.seq));
      expect((await store.events.get("imp-2"))?.time).toBe(minutes(-300));
      // The same file again: every id is stored, so nothing is, and each answers with its first seq.
      const again = await append(
        store,
        exported.map((e) => ({ ...e })),
      );
      expect(again.stored).toEqual([]);
      expect(again.results).toEqual(first.results);
      expect(await store.stats()).toEqual({ events: 3, topics: 2 });
    });

    it("replays an Idempotency-Key: the first request's results, nothing stored", async () => {
      const first = await append(store, [makeEvent("orders"), makeEvent("orders")], { idempotencyKey: "key-1" });
      expect(first.replayed).toBe(false);
      expect(first.stored).toHaveLength(2);

      const other = [makeEvent("orders"), makeEvent("users"), makeEvent("users")];
      const again = await append(store, other, { idempotencyKey: "key-1" });
      expect(again.results).toEqual(first.results);
      expect(again.stored).toEqual([]);
      expect(again.replayed).toBe(true);
      for (const e of other) expect(await store.events.get(e.id)).toBeUndefined();
      expect(await store.topics.get("users")).toBeUndefined();
      expect(await store.stats()).toEqual({ events: 2, topics: 1 });

      const fresh = await append(store, [makeEvent("orders")], { idempotencyKey: "key-2" });
      expect(fresh.replayed).toBe(false);
      expect(fresh.results[0]!.seq).toBeGreaterThan(first.results[1]!.seq);
    });

    it("replays an Idempotency-Key used twice in one call", async () => {
      const outcomes = await store.events.append([
        { events: [makeEvent("orders")], idempotencyKey: "same", createTopics: true },
        { events: [makeEvent("orders")], idempotencyKey: "same", createTopics: true },
      ]);
      const [first, second] = outcomes.map(expectOk);
      expect(first!.replayed).toBe(false);
      expect(second!.results).toEqual(first!.results);
      expect(second!.stored).toEqual([]);
      expect(second!.replayed).toBe(true);
      expect(await store.events.readAfter(0, 10)).toHaveLength(1);
    });

    it("forgets the Idempotency-Key of a failed request", async () => {
      const [failed] = await store.events.append([{ events: [makeEvent("nowhere")], idempotencyKey: "retry-me", createTopics: false }]);
      expectFailed(failed);
      const retried = await append(store, [makeEvent("orders")], { idempotencyKey: "retry-me" });
      expect(retried.replayed).toBe(false);
      expect(retried.stored).toHaveLength(1);
    });

    it("creates topics on demand and keeps their counters", async () => {
      const before = Date.now();
      await append(store, [
        makeEvent("auto.topic", { receivedAt: T0 + 1000 }),
        makeEvent("auto.topic", { receivedAt: T0 + 3000 }),
        makeEvent("auto.topic", { receivedAt: T0 + 2000 }),
      ]);
      const after = Date.now();
      const topic = await store.topics.get("auto.topic");
      expect(topic).toEqual({
        name: "auto.topic",
        description: null,
        schema: null,
        originHost: null,
        createdAt: expect.any(Number),
        updatedAt: expect.any(Number),
        eventCount: 3,
        lastEventAt: T0 + 3000,
        retentionMs: null,
        storage: "log",
      });
      expect(topic!.createdAt).toBeGreaterThanOrEqual(before);
      expect(topic!.createdAt).toBeLessThanOrEqual(after);

      // An older receive time does not move last_event_at back; the count goes on.
      await append(store, [makeEvent("auto.topic", { receivedAt: T0 + 500 })], { createTopics: false });
      expect(await store.topics.get("auto.topic")).toMatchObject({ eventCount: 4, lastEventAt: T0 + 3000 });
      await append(store, [makeEvent("auto.topic", { receivedAt: T0 + 9000 })]);
      expect(await store.topics.get("auto.topic")).toMatchObject({ eventCount: 5, lastEventAt: T0 + 9000 });
    });

    it("does not create a topic without createTopics", async () => {
      const [outcome] = await store.events.append([{ events: [makeEvent("not.there")], createTopics: false }]);
      const error = expectFailed(outcome);
      expect((error as HubError).code).toBe("SB_TOPIC_NOT_FOUND");
      expect(await store.topics.get("not.there")).toBeUndefined();
      expect(await store.stats()).toEqual({ events: 0, topics: 0 });
      expect(await store.events.lastSeq()).toBe(0);
    });
  });

  // SQLite stores runs of a request's events with multi-row statements (64 rows, then 8, the rest one by one): sizes
  // around those, and repeats and new topics inside a run, must store exactly what one row at a time would.
  describe("large requests", () => {
    /** A mix of fields, so that each row's columns are checked in place. */
    const varied = (n: number, topic: string): NewEvent[] =>
      Array.from({ length: n }, (_, i) =>
        makeEvent(topic, {
          type: i % 3 === 0 ? "t.created" : null,
          key: i % 5 === 0 ? `k${i}` : null,
          attributes: i % 7 === 0 ? { n: String(i) } : {},
          headers: i % 11 === 0 ? { "x-n": String(i) } : undefined,
          time: T0 + i,
          receivedAt: T0 + 60_000 * (i % 2),
          data: { i },
        }),
      );

    /** Events with only the columns every event has (SQLite binds runs of them with fewer parameters). */
    const plain = (n: number, topic: string): NewEvent[] =>
      Array.from({ length: n }, (_, i) => makeEvent(topic, { time: T0 + i, receivedAt: T0 + 60_000 * (i % 2), data: { i } }));

    for (const [n, kind, make] of [1, 7, 8, 9, 63, 64, 65, 500].flatMap((n) => [[n, "varied", varied] as const, [n, "plain", plain] as const])) {
      it(`stores a request of ${n} ${kind} events in order, once each, with consecutive seqs`, async () => {
        await append(store, [makeEvent("big")]);
        const events = make(n, "big");
        const out = await append(store, events);
        expect(out.results.map((r) => r.id)).toEqual(events.map((e) => e.id));
        const seqs = out.results.map((r) => r.seq);
        expect(seqs).toEqual(events.map((_, i) => seqs[0]! + i));
        expect(seqs[0]).toBe((await store.events.readAfter(0, 1))[0]!.seq + 1);
        const expected = events.map((e, i) => persisted(e, seqs[i]));
        expect(out.stored.map((e) => persisted(e))).toEqual(expected);
        expect((await store.events.readAfter(seqs[0]! - 1, n + 1)).map((e) => persisted(e))).toEqual(expected);
        expect(await store.events.lastSeq()).toBe(seqs.at(-1));
        expect(await store.topics.get("big")).toMatchObject({ eventCount: n + 1, lastEventAt: T0 + (n > 1 ? 60_000 : 0) });
      });
    }

    it.each([
      ["varied", varied],
      ["plain", plain],
    ])("answers repeated client ids inside runs of %s events with the first results; the others take the seqs in turn", async (_, make) => {
      const first = await append(store, [clientEvent("c-10", "big"), clientEvent("c-70", "big", { data: { first: true } })]);
      const [seq10, seq70] = first.results.map((r) => r.seq);
      const events = make(130, "big");
      events[10] = clientEvent("c-10", "big");
      events[70] = clientEvent("c-70", "big", { data: { second: true } });
      events[100] = clientEvent("c-new", "big");
      events[101] = clientEvent("c-new", "big");
      const out = await append(store, events);
      const repeats = new Set([10, 70, 101]);
      const fresh = events.filter((_, i) => !repeats.has(i));
      const base = seq70! + 1;
      const seqOf = new Map(fresh.map((e, i) => [e, base + i]));
      expect(out.results).toEqual(
        events.map((e, i) => ({
          id: e.id,
          topic: "big",
          seq: i === 10 ? seq10 : i === 70 ? seq70 : i === 101 ? seqOf.get(events[100]!) : seqOf.get(e),
        })),
      );
      expect(out.replayed).toBe(false);
      expect(out.stored.map((e) => e.id)).toEqual(fresh.map((e) => e.id));
      expect((await store.events.readAfter(0, 1000)).map((e) => persisted(e))).toEqual([
        ...first.stored.map((e) => persisted(e)),
        ...fresh.map((e) => persisted(e, seqOf.get(e))),
      ]);
      expect((await store.events.get("c-70"))?.data).toEqual({ first: true });
      expect(await store.topics.get("big")).toMatchObject({ eventCount: 2 + 127 });
    });

    for (const n of [7, 8, 9, 64, 65, 130]) {
      it(`group-commits ${n} one-event requests in order, with consecutive seqs`, async () => {
        await append(store, [makeEvent("big")]);
        const events = varied(n, "big");
        const outcomes = (await store.events.append(events.map((e) => ({ events: [e], createTopics: true })))).map(expectOk);
        const base = (await store.events.readAfter(0, 1))[0]!.seq + 1;
        expect(outcomes.map((o) => o.results)).toEqual(events.map((e, i) => [{ id: e.id, seq: base + i, topic: "big" }]));
        expect(outcomes.map((o) => [o.replayed, o.stored.length])).toEqual(events.map(() => [false, 1]));
        expect((await store.events.readAfter(base - 1, n + 1)).map((e) => persisted(e))).toEqual(events.map((e, i) => persisted(e, base + i)));
        expect(await store.topics.get("big")).toMatchObject({ eventCount: n + 1 });
      });
    }

    it("group-commits one-event requests around repeats, new topics and a failing request, each as alone", async () => {
      await store.topics.create({ name: "big" }, T0);
      const first = await append(store, [clientEvent("c-5", "big", { data: { first: true } })]);
      const events = varied(80, "big");
      events[5] = clientEvent("c-5", "big", { data: { second: true } });
      events[20] = clientEvent("c-new", "big");
      events[21] = clientEvent("c-new", "big");
      events[40] = makeEvent("not.there");
      events[50] = makeEvent("fresh.topic");
      const outcomes = await store.events.append(events.map((e, i) => ({ events: [e], createTopics: i !== 40 })));
      expect((expectFailed(outcomes[40]) as HubError).code).toBe("SB_TOPIC_NOT_FOUND");
      const skipped = new Set([5, 21, 40]);
      const fresh = events.filter((_, i) => !skipped.has(i));
      const seqOf = new Map(fresh.map((e, i) => [e, first.results[0]!.seq + 1 + i]));
      outcomes.forEach((o, i) => {
        if (i === 40) return;
        const seq = i === 5 ? first.results[0]!.seq : i === 21 ? seqOf.get(events[20]!) : seqOf.get(events[i]!);
        expect(expectOk(o).results).toEqual([{ id: events[i]!.id, seq, topic: events[i]!.topic }]);
        expect(expectOk(o).replayed).toBe(i === 5 || i === 21);
      });
      expect((await store.events.readAfter(0, 1000)).map((e) => persisted(e))).toEqual([
        persisted(first.stored[0]!),
        ...fresh.map((e) => persisted(e, seqOf.get(e))),
      ]);
      expect(await store.topics.get("big")).toMatchObject({ eventCount: 1 + 76 });
      expect(await store.topics.get("fresh.topic")).toMatchObject({ eventCount: 1 });
      expect(await store.topics.get("not.there")).toBeUndefined();
    });

    it("creates a topic first named inside a run, or fails the request without createTopics", async () => {
      await store.topics.create({ name: "known" }, T0);
      const events = [...varied(40, "known"), ...varied(60, "fresh.topic"), ...varied(30, "known")];
      const [refused] = await store.events.append([{ events, createTopics: false }]);
      expect((expectFailed(refused) as HubError).code).toBe("SB_TOPIC_NOT_FOUND");
      expect(await store.events.lastSeq()).toBe(0);

      const out = await append(store, events);
      expect(out.results.map((r) => r.seq)).toEqual(events.map((_, i) => i + 1));
      expect((await store.events.readAfter(0, 1000)).map((e) => persisted(e))).toEqual(events.map((e, i) => persisted(e, i + 1)));
      expect(await store.topics.get("known")).toMatchObject({ eventCount: 70 });
      expect(await store.topics.get("fresh.topic")).toMatchObject({ eventCount: 60 });
    });
  });

  describe("captured request headers", () => {
    it("keeps an event's headers and reads them back everywhere; an event without has none", async () => {
      const headers = { "x-tenant": "acme", "x-request-id": "r-1 ünïcode" };
      const single = [makeEvent("hdr", { headers }), makeEvent("hdr")];
      const one = await append(store, single);
      // Several requests in one call: PostgreSQL stores them with its batch statement.
      const outcomes = await store.events.append([
        { events: [makeEvent("hdr", { headers: { "x-tenant": "globex" } })], createTopics: true },
        { events: [makeEvent("hdr")], createTopics: true },
      ]);
      const seqs = [...one.results.map((r) => r.seq), ...outcomes.map((o) => expectOk(o).results[0]!.seq)];
      const read = await store.events.readAfter(0, 10);
      expect(read.map((e) => e.seq)).toEqual(seqs);
      expect(read.map((e) => e.headers)).toEqual([headers, undefined, { "x-tenant": "globex" }, undefined]);
      expect(read[1]).not.toHaveProperty("headers");
      expect((await store.events.get(single[0]!.id))?.headers).toEqual(headers);
      expect((await store.events.search({ topics: ["hdr"], order: "asc", limit: 10 })).map((e) => e.headers)).toEqual([
        headers,
        undefined,
        { "x-tenant": "globex" },
        undefined,
      ]);
    });

    it("stores an empty set of headers as none", async () => {
      const out = await append(store, [makeEvent("hdr.empty", { headers: {} })]);
      expect((await store.events.get(out.results[0]!.id))?.headers).toBeUndefined();
    });
  });

  describe("reading events", () => {
    it("is empty at first", async () => {
      expect(await store.events.lastSeq()).toBe(0);
      expect(await store.events.firstSeq()).toBeUndefined();
      expect(await store.events.readAfter(0, 10)).toEqual([]);
      expect(await store.events.search({ order: "asc", limit: 10 })).toEqual([]);
      expect(await store.events.get("evt_nothing")).toBeUndefined();
      expect((await store.events.get("evt_nothing"))?.seq).toBeUndefined();
    });

    it("gives back every field as stored", async () => {
      const attributes = JSON.parse('{"__proto__": "plain", "region": "eu"}') as Record<string, string>;
      const events = [
        makeEvent("orders.created", {
          type: "order.created",
          source: "https://shop.example/api",
          subject: "order/42",
          key: "customer-7",
          time: minutes(3) + 123,
          receivedAt: minutes(4) + 456,
          data: { b: 1, a: [1, 2.5, "três", null, true], nested: { "x y": "z" } },
          attributes,
        }),
        // The JSON text is kept as given, so that replayed SSE frames equal live ones.
        makeEvent("orders.created", { data: { z: 1, a: 2 }, dataJson: '{"z":1,"a":2}' }),
        makeEvent("orders.created", { data: "just a string" }),
        makeEvent("orders.created", { data: 12345678901234 }),
        makeEvent("orders.created", { data: null }),
        clientEvent("client/given id ✓", "orders.created", { data: ["🚀"] }),
      ];
      const out = await append(store, events);
      for (const [i, e] of events.entries()) {
        const seq = out.results[i]!.seq;
        const got = await store.events.get(e.id);
        expect(got && persisted(got)).toEqual(persisted(e, seq));
        expect(got!.dataJson).toBe(e.dataJson);
        expect((await store.events.get(e.id))?.seq).toBe(seq);
      }
      const first = await store.events.get(events[0]!.id);
      expect(Object.keys(first!.attributes)).toEqual(["__proto__", "region"]);
    });

    it("reads the log after a seq, in seq order, up to a limit", async () => {
      const out = await append(
        store,
        Array.from({ length: 5 }, (_, i) => makeEvent(i % 2 ? "odd" : "even", { time: minutes(10 - i) })),
      );
      const seqs = out.results.map((r) => r.seq);
      expect((await store.events.readAfter(0, 2)).map((e) => e.seq)).toEqual(seqs.slice(0, 2));
      expect((await store.events.readAfter(seqs[1]!, 10)).map((e) => e.seq)).toEqual(seqs.slice(2));
      expect((await store.events.readAfter(seqs[1]!, 10)).map((e) => e.id)).toEqual(out.results.slice(2).map((r) => r.id));
      expect(await store.events.readAfter(seqs[4]!, 10)).toEqual([]);
      expect(await store.events.firstSeq()).toBe(seqs[0]);
      expect(await store.events.lastSeq()).toBe(seqs[4]);
    });
  });

  describe("searchEvents", () => {
    // Appended in this order; `time` is deliberately not in append order. e1 and e7 share a time.
    const seed: NewEvent[] = [
      clientEvent("e1", "orders.created", {
        time: minutes(1),
        type: "order.created",
        key: "c1",
        data: { user_id: 123, amount: 10, vip: true, note: null, region: "eu" },
      }),
      clientEvent("e2", "orders.eu.created", {
        time: minutes(2),
        type: "order.created",
        key: "c2",
        data: { user_id: "123", amount: 1.5, vip: false, region: "eu" },
      }),
      clientEvent("e3", "orders.deleted", { time: minutes(3), type: "order.deleted", key: "c1", data: { user_id: 456, vip: "true", note: "null", amount: 0 } }),
      clientEvent("e4", "users.created", {
        time: minutes(4),
        type: "user.created",
        key: "c3",
        data: { user_id: "0123", "user-id": "dash", amount: "1.5", vip: 1 },
      }),
      clientEvent("e5", "ordersX.y", { time: minutes(5), type: "order.created", key: "c1", data: [123] }),
      clientEvent("e6", "orders.created", { time: minutes(0), data: 123 }),
      clientEvent("e7", "orders.created", { time: minutes(1), type: "order.created", data: { user_id: 1234, amount: 10, region: "us" } }),
      clientEvent("e8", "users.created", { time: minutes(6), data: "text" }),
    ];
    const ASC = ["e6", "e1", "e7", "e2", "e3", "e4", "e5", "e8"];
    let seqOf: Record<string, number>;

    beforeEach(async () => {
      const out = await append(store, seed);
      seqOf = Object.fromEntries(out.results.map((r) => [r.id, r.seq]));
    });

    const search = async (query: Partial<Parameters<Store["events"]["search"]>[0]>): Promise<string[]> =>
      (await store.events.search({ order: "asc", limit: 100, ...query })).map((e) => e.id);

    it("orders by (time, seq), ascending or descending", async () => {
      expect(await search({})).toEqual(ASC);
      expect(await search({ order: "desc" })).toEqual([...ASC].reverse());
      expect(await search({ limit: 3 })).toEqual(ASC.slice(0, 3));
      expect(await search({ order: "desc", limit: 2 })).toEqual(["e8", "e5"]);
    });

    it("returns whole events", async () => {
      const [e1] = await store.events.search({ topics: ["orders.created"], key: "c1", order: "asc", limit: 1 });
      expect(e1 && persisted(e1)).toEqual(persisted(seed[0]!, seqOf.e1));
    });

    it.each<[string, Partial<Parameters<Store["events"]["search"]>[0]>, string[]]>([
      ["one topic", { topics: ["orders.created"] }, ["e6", "e1", "e7"]],
      ["several topics", { topics: ["orders.created", "users.created"] }, ["e6", "e1", "e7", "e4", "e8"]],
      ["an unknown topic", { topics: ["nope"] }, []],
      ["a topic prefix", { topicPrefixes: ["orders."] }, ["e6", "e1", "e7", "e2", "e3"]],
      ["a deeper prefix", { topicPrefixes: ["orders.eu."] }, ["e2"]],
      ["topics OR prefixes", { topics: ["users.created"], topicPrefixes: ["orders.eu."] }, ["e2", "e4", "e8"]],
      ["two prefixes", { topicPrefixes: ["users.", "ordersX."] }, ["e4", "e5", "e8"]],
      ["type", { type: "order.created" }, ["e1", "e7", "e2", "e5"]],
      ["key", { key: "c1" }, ["e1", "e3", "e5"]],
      ["type and key", { type: "order.created", key: "c1" }, ["e1", "e5"]],
      ["fromTime (inclusive)", { fromTime: minutes(4) }, ["e4", "e5", "e8"]],
      ["toTime (exclusive)", { toTime: minutes(1) }, ["e6"]],
      ["a time range", { fromTime: minutes(1), toTime: minutes(3) }, ["e1", "e7", "e2"]],
      ["topic and time range", { topics: ["orders.created"], fromTime: minutes(1), toTime: minutes(2) }, ["e1", "e7"]],
      ["an empty time range", { fromTime: minutes(2), toTime: minutes(2) }, []],
    ])("narrows by %s", async (_what, query, expected) => {
      expect(await search(query)).toEqual(expected);
      expect(await search({ ...query, order: "desc" })).toEqual([...expected].reverse());
    });

    it.each<[string, Array<{ field: string; value: string | number | boolean | null }>, string[]]>([
      ["a number matches the number and the numeric string", [{ field: "user_id", value: 123 }], ["e1", "e2"]],
      ["a fraction matches the number and the numeric string", [{ field: "amount", value: 1.5 }], ["e2", "e4"]],
      ["a number does not match false or other numbers", [{ field: "amount", value: 10 }], ["e1", "e7"]],
      ["zero matches zero only", [{ field: "amount", value: 0 }], ["e3"]],
      ["a string matches the string only", [{ field: "user_id", value: "123" }], ["e2"]],
      ["a string with leading zeros", [{ field: "user_id", value: "0123" }], ["e4"]],
      ["true matches true only", [{ field: "vip", value: true }], ["e1"]],
      ["false matches false only", [{ field: "vip", value: false }], ["e2"]],
      ["null matches null only, not a missing field", [{ field: "note", value: null }], ["e1"]],
      ["the string null", [{ field: "note", value: "null" }], ["e3"]],
      ["a field name with a dash", [{ field: "user-id", value: "dash" }], ["e4"]],
      ["a field nobody has", [{ field: "missing", value: "x" }], []],
      [
        "several fields, all of them",
        [
          { field: "region", value: "eu" },
          { field: "amount", value: 10 },
        ],
        ["e1"],
      ],
    ])("dataEquals: %s", async (_what, dataEquals, expected) => {
      expect(await search({ dataEquals })).toEqual(expected);
    });

    it("combines dataEquals with topics and time", async () => {
      expect(await search({ topics: ["orders.created"], fromTime: minutes(1), dataEquals: [{ field: "amount", value: 10 }] })).toEqual(["e1", "e7"]);
      expect(await search({ topicPrefixes: ["orders."], dataEquals: [{ field: "region", value: "eu" }], order: "desc" })).toEqual(["e2", "e1"]);
    });

    it("pages with a cursor, ascending, across events of the same time", async () => {
      const pages: string[][] = [];
      let after: { time: number; seq: number } | undefined;
      for (let n = 0; n <= seed.length; n++) {
        const page = await store.events.search({ order: "asc", limit: 2, after });
        if (page.length === 0) break;
        pages.push(page.map((e) => e.id));
        after = { time: page.at(-1)!.time, seq: page.at(-1)!.seq };
      }
      expect(pages).toEqual([
        ["e6", "e1"],
        ["e7", "e2"],
        ["e3", "e4"],
        ["e5", "e8"],
      ]);
    });

    it("pages with a cursor, descending", async () => {
      const pages: string[][] = [];
      let after: { time: number; seq: number } | undefined;
      for (let n = 0; n <= seed.length; n++) {
        const page = await store.events.search({ order: "desc", limit: 3, after });
        if (page.length === 0) break;
        pages.push(page.map((e) => e.id));
        after = { time: page.at(-1)!.time, seq: page.at(-1)!.seq };
      }
      expect(pages).toEqual([
        ["e8", "e5", "e4"],
        ["e3", "e2", "e7"],
        ["e1", "e6"],
      ]);
    });

    it("starts strictly after the cursor, in both orders", async () => {
      const at = { time: minutes(1), seq: seqOf.e1! };
      expect(await search({ after: at })).toEqual(["e7", "e2", "e3", "e4", "e5", "e8"]);
      expect(await search({ after: at, order: "desc" })).toEqual(["e6"]);
      expect(await search({ after: { time: minutes(1), seq: seqOf.e7! }, topics: ["orders.created"] })).toEqual([]);
      expect(await search({ after: { time: minutes(1), seq: seqOf.e7! }, topics: ["orders.created"], order: "desc" })).toEqual(["e1", "e6"]);
    });
  });

  describe("retention (deleteEventsBefore)", () => {
    it("keeps a topic's retentionMs through create and update; null is the default", async () => {
      expect(await store.topics.create({ name: "short", retentionMs: 60_000 }, T0)).toMatchObject({ retentionMs: 60_000 });
      expect(await store.topics.create({ name: "forever", retentionMs: 0 }, T0)).toMatchObject({ retentionMs: 0 });
      expect(await store.topics.update("short", { retentionMs: 5_000 }, T0 + 1)).toMatchObject({ retentionMs: 5_000 });
      expect(await store.topics.update("short", { description: "x" }, T0 + 2)).toMatchObject({ retentionMs: 5_000 });
      expect(await store.topics.update("short", { retentionMs: null }, T0 + 3)).toMatchObject({ retentionMs: null });
      expect((await store.topics.list()).map((t) => [t.name, t.retentionMs])).toEqual([
        ["forever", 0],
        ["short", null],
      ]);
    });

    it("removes the topic's events received before the time, oldest first, up to the limit, and counts them", async () => {
      const old = await append(
        store,
        [0, 1, 2, 3, 4].map((i) => makeEvent("logs", { receivedAt: minutes(i) })),
      );
      const other = await append(store, [makeEvent("other", { receivedAt: minutes(0) })]);
      const young = await append(store, [makeEvent("logs", { receivedAt: minutes(10) }), makeEvent("logs", { receivedAt: minutes(11) })]);
      const oldIds = old.results.map((r) => r.id);

      expect(await store.events.deleteBefore({ topic: "logs", receivedBefore: minutes(10), limit: 3 })).toBe(3);
      for (const id of oldIds.slice(0, 3)) expect(await store.events.get(id)).toBeUndefined();
      expect(await store.topics.get("logs")).toMatchObject({ eventCount: 4, lastEventAt: minutes(11) });

      // The cutoff is exclusive: the event received exactly at minutes(10) stays.
      expect(await store.events.deleteBefore({ topic: "logs", receivedBefore: minutes(10), limit: 3 })).toBe(2);
      expect(await store.events.deleteBefore({ topic: "logs", receivedBefore: minutes(10), limit: 3 })).toBe(0);
      const left = [...other.results, ...young.results].map((r) => r.id);
      expect((await store.events.readAfter(0, 100)).map((e) => e.id)).toEqual(left);
      expect((await store.events.search({ order: "asc", limit: 100 })).map((e) => e.id).sort()).toEqual([...left].sort());
      expect(await store.topics.get("logs")).toMatchObject({ eventCount: 2 });
      expect(await store.topics.get("other")).toMatchObject({ eventCount: 1 });
      expect(await store.stats()).toEqual({ events: 3, topics: 2 });
      expect(await store.events.firstSeq()).toBe(other.results[0]!.seq);
    });

    it("removes by receive time, not event time", async () => {
      const e = await append(store, [makeEvent("logs", { time: minutes(100), receivedAt: minutes(1) })]);
      await append(store, [makeEvent("logs", { time: minutes(0), receivedAt: minutes(20) })]);
      expect(await store.events.deleteBefore({ topic: "logs", receivedBefore: minutes(10), limit: 100 })).toBe(1);
      expect(await store.events.get(e.results[0]!.id)).toBeUndefined();
      expect(await store.topics.get("logs")).toMatchObject({ eventCount: 1 });
    });

    it("returns 0 for an unknown topic or nothing old enough", async () => {
      await append(store, [makeEvent("logs", { receivedAt: minutes(5) })]);
      expect(await store.events.deleteBefore({ topic: "nope", receivedBefore: minutes(100), limit: 10 })).toBe(0);
      expect(await store.events.deleteBefore({ topic: "logs", receivedBefore: minutes(5), limit: 10 })).toBe(0);
      expect(await store.topics.get("logs")).toMatchObject({ eventCount: 1 });
    });

    it("never lets seq go back after the newest events were removed", async () => {
      const all = await append(store, [makeEvent("logs", { receivedAt: minutes(1) }), makeEvent("logs", { receivedAt: minutes(2) })]);
      const newest = all.results[1]!.seq;
      expect(await store.events.deleteBefore({ topic: "logs", receivedBefore: minutes(3), limit: 10 })).toBe(2);
      expect(await store.events.lastSeq()).toBe(newest);
      expect(await store.events.firstSeq()).toBeUndefined();
      const next = await append(store, [makeEvent("logs", { receivedAt: minutes(4) })]);
      expect(next.results[0]!.seq).toBeGreaterThan(newest);
      expect(await store.topics.get("logs")).toMatchObject({ eventCount: 1 });
    });
  });
}
