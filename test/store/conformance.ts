/**
 * The store conformance suite: one set of tests every {@link Store} driver must pass. A driver's test file calls
 * {@link describeStoreConformance} with a function that opens a store on a new, empty database; see
 * `sqlite.test.ts`. A PostgreSQL driver plugs in with one more such file.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../../src/errors.js";
import type { ApiKey, AppendOutcome, AppendRequest, NewDelivery, NewEvent, Store, StoredEvent, Subscription } from "../../src/store/store.js";

/** Driver-specific abilities the suite needs for the few checks the Store interface cannot express. */
export interface StoreConformanceOptions {
  /**
   * Records `version` in `switchboard_migrations` of the database `store` uses, bypassing the store, as a newer
   * Switchboard would have. Without it the check that `migrate()` refuses a newer database is skipped.
   */
  recordMigration?: (store: Store, version: number) => Promise<void>;
}

const T0 = Date.UTC(2025, 0, 1);
const minutes = (m: number): number => T0 + m * 60_000;

let serial = 0;

/** A valid event; `id` defaults to a unique generated id (clientId false). */
export function makeEvent(topic: string, overrides: Partial<NewEvent> = {}): NewEvent {
  const data = "data" in overrides ? overrides.data : { serial: ++serial };
  return {
    id: `evt_conformance_${String(++serial).padStart(8, "0")}`,
    clientId: false,
    topic,
    type: null,
    source: null,
    subject: null,
    time: T0,
    key: null,
    data,
    attributes: {},
    receivedAt: T0,
    ...overrides,
    dataJson: overrides.dataJson ?? JSON.stringify(data),
  };
}

/** A client-given id. */
function clientEvent(id: string, topic: string, overrides: Partial<NewEvent> = {}): NewEvent {
  return makeEvent(topic, { ...overrides, id, clientId: true });
}

type Ok = Extract<AppendOutcome, { ok: true }>;

function expectOk(outcome: AppendOutcome | undefined): Ok {
  expect(outcome).toBeDefined();
  if (!outcome!.ok) expect.fail(`expected the request to succeed, it failed with ${outcome!.error.message}`);
  return outcome as Ok;
}

function expectFailed(outcome: AppendOutcome | undefined): Error {
  expect(outcome).toBeDefined();
  if (outcome!.ok) return expect.fail("expected the request to fail, it succeeded");
  return outcome!.error;
}

/** Appends one request and returns its (successful) outcome. */
async function append(store: Store, events: NewEvent[], options: Partial<AppendRequest> = {}): Promise<Ok> {
  const outcomes = await store.events.append([{ events, createTopics: true, ...options }]);
  expect(outcomes).toHaveLength(1);
  return expectOk(outcomes[0]);
}

/** An event as read back: everything but `clientId`, which is a fact of the request, not of the stored row. */
function persisted(e: NewEvent | StoredEvent, seq?: number): Omit<StoredEvent, "clientId"> {
  const { clientId: _clientId, ...rest } = e as StoredEvent;
  return seq === undefined ? rest : { ...rest, seq };
}

function expectStrictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i]! > values[i - 1]!)) expect.fail(`seq ${values[i]} at ${i} is not above ${values[i - 1]}: ${values.join(", ")}`);
  }
}

async function expectHubError(promise: Promise<unknown>, code: string, status: number): Promise<HubError> {
  const error = await promise.then(
    () => expect.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  expect((error as HubError).code).toBe(code);
  expect((error as HubError).status).toBe(status);
  return error as HubError;
}

/**
 * Registers the conformance suite for one store driver.
 * @param open opens a store on a new, empty database, not yet migrated. Called once per test; the suite migrates
 *   and closes what it opens.
 */
export function describeStoreConformance(name: string, open: () => Promise<Store>, options: StoreConformanceOptions = {}): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let firstMigration: { applied: string[]; version: number };

    beforeEach(async () => {
      store = await open();
      firstMigration = await store.migrate();
    });

    afterEach(async () => {
      await store.close();
    });

    describe("migrate", () => {
      it("applies every migration to a new database", () => {
        expect(firstMigration.version).toBeGreaterThanOrEqual(1);
        expect(firstMigration.applied).toHaveLength(firstMigration.version);
        firstMigration.applied.forEach((m, i) => expect(m).toMatch(new RegExp(`^${String(i + 1).padStart(4, "0")}_[a-z0-9_]+$`)));
        expect(["sqlite", "postgres"]).toContain(store.dialect);
      });

      it("is idempotent and keeps the data", async () => {
        const first = await append(store, [makeEvent("orders")]);
        expect(await store.migrate()).toEqual({ applied: [], version: firstMigration.version });
        expect(await store.migrate()).toEqual({ applied: [], version: firstMigration.version });
        expect((await store.events.get(first.results[0]!.id))?.seq).toBe(first.results[0]!.seq);
        const next = await append(store, [makeEvent("orders")]);
        expect(next.results[0]!.seq).toBeGreaterThan(first.results[0]!.seq);
      });

      it.skipIf(!options.recordMigration)("refuses a database newer than the code (needs options.recordMigration)", async () => {
        const newer = firstMigration.version + 1;
        await options.recordMigration!(store, newer);
        await expect(store.migrate()).rejects.toThrow(new RegExp(`\\b${newer}\\b.*newer|newer.*\\b${newer}\\b`));
      });
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
          const [outcome] = await store.events.append([
            { events: [clientEvent("ord-2000", "payments.secret")], publisher: "key_admin", createTopics: true },
          ]);
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

    describe("reading events", () => {
      it("is empty at first", async () => {
        expect(await store.events.lastSeq()).toBe(0);
        expect(await store.events.firstSeq()).toBeUndefined();
        expect(await store.events.readAfter(0, 10)).toEqual([]);
        expect(await store.events.search({ order: "asc", limit: 10 })).toEqual([]);
        expect(await store.events.get("evt_nothing")).toBeUndefined();
        expect(await store.events.getSeq("evt_nothing")).toBeUndefined();
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
          expect(await store.events.getSeq(e.id)).toBe(seq);
        }
        const first = await store.events.get(events[0]!.id);
        expect(Object.keys(first!.attributes)).toEqual(["__proto__", "region"]);
      });

      it("reads the log after a seq, in seq order, up to a limit", async () => {
        const out = await append(store, Array.from({ length: 5 }, (_, i) => makeEvent(i % 2 ? "odd" : "even", { time: minutes(10 - i) })));
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
        clientEvent("e1", "orders.created", { time: minutes(1), type: "order.created", key: "c1", data: { user_id: 123, amount: 10, vip: true, note: null, region: "eu" } }),
        clientEvent("e2", "orders.eu.created", { time: minutes(2), type: "order.created", key: "c2", data: { user_id: "123", amount: 1.5, vip: false, region: "eu" } }),
        clientEvent("e3", "orders.deleted", { time: minutes(3), type: "order.deleted", key: "c1", data: { user_id: 456, vip: "true", note: "null", amount: 0 } }),
        clientEvent("e4", "users.created", { time: minutes(4), type: "user.created", key: "c3", data: { user_id: "0123", "user-id": "dash", amount: "1.5", vip: 1 } }),
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
        expect(pages).toEqual([["e6", "e1"], ["e7", "e2"], ["e3", "e4"], ["e5", "e8"]]);
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
        expect(pages).toEqual([["e8", "e5", "e4"], ["e3", "e2", "e7"], ["e1", "e6"]]);
      });

      it("starts strictly after the cursor, in both orders", async () => {
        const at = { time: minutes(1), seq: seqOf.e1! };
        expect(await search({ after: at })).toEqual(["e7", "e2", "e3", "e4", "e5", "e8"]);
        expect(await search({ after: at, order: "desc" })).toEqual(["e6"]);
        expect(await search({ after: { time: minutes(1), seq: seqOf.e7! }, topics: ["orders.created"] })).toEqual([]);
        expect(await search({ after: { time: minutes(1), seq: seqOf.e7! }, topics: ["orders.created"], order: "desc" })).toEqual(["e1", "e6"]);
      });
    });

    describe("topics", () => {
      it("creates a topic with its fields and empty counters", async () => {
        const schema = { type: "object", required: ["amount"], properties: { amount: { type: "number" } } };
        const topic = await store.topics.create({ name: "orders", description: "All orders", schema, originHost: "shop-1" }, T0);
        const expected = {
          name: "orders",
          description: "All orders",
          schema,
          originHost: "shop-1",
          createdAt: T0,
          updatedAt: T0,
          eventCount: 0,
          lastEventAt: null,
          retentionMs: null,
        };
        expect(topic).toEqual(expected);
        expect(await store.topics.get("orders")).toEqual(expected);
        expect(await store.topics.create({ name: "bare" }, T0 + 1)).toEqual({
          name: "bare",
          description: null,
          schema: null,
          originHost: null,
          createdAt: T0 + 1,
          updatedAt: T0 + 1,
          eventCount: 0,
          lastEventAt: null,
          retentionMs: null,
        });
      });

      it("refuses a duplicate with 409 SB_TOPIC_EXISTS, also of an auto-created topic", async () => {
        await store.topics.create({ name: "orders", description: "first" }, T0);
        const error = await expectHubError(store.topics.create({ name: "orders", description: "second" }, T0 + 1), "SB_TOPIC_EXISTS", 409);
        expect(error.details).toContain('"orders"');
        expect((await store.topics.get("orders"))?.description).toBe("first");

        await append(store, [makeEvent("auto")]);
        await expectHubError(store.topics.create({ name: "auto" }, T0), "SB_TOPIC_EXISTS", 409);
        expect((await store.topics.get("auto"))?.eventCount).toBe(1);
      });

      it("gets undefined for an unknown topic", async () => {
        expect(await store.topics.get("nope")).toBeUndefined();
      });

      it("lists topics by name, with their counters", async () => {
        expect(await store.topics.list()).toEqual([]);
        await store.topics.create({ name: "zeta" }, T0);
        await append(store, [makeEvent("alpha", { receivedAt: T0 + 5 }), makeEvent("alpha", { receivedAt: T0 + 7 })]);
        await store.topics.create({ name: "mid", description: "m" }, T0);
        const topics = await store.topics.list();
        expect(topics.map((t) => t.name)).toEqual(["alpha", "mid", "zeta"]);
        expect(topics.map((t) => [t.eventCount, t.lastEventAt])).toEqual([
          [2, T0 + 7],
          [0, null],
          [0, null],
        ]);
        expect(topics[1]).toEqual(await store.topics.get("mid"));
      });

      it("updates the fields a patch names and keeps the rest", async () => {
        const schema = { type: "object" };
        await store.topics.create({ name: "orders", description: "d1", schema, originHost: "h1" }, T0);
        await append(store, [makeEvent("orders", { receivedAt: T0 + 10 })]);

        const described = await store.topics.update("orders", { description: "d2" }, T0 + 100);
        expect(described).toEqual({
          name: "orders",
          description: "d2",
          schema,
          originHost: "h1",
          createdAt: T0,
          updatedAt: T0 + 100,
          eventCount: 1,
          lastEventAt: T0 + 10,
          retentionMs: null,
        });
        expect(await store.topics.get("orders")).toEqual(described);

        const newSchema = { type: "object", required: ["id"] };
        expect(await store.topics.update("orders", { schema: newSchema, originHost: null }, T0 + 200)).toMatchObject({
          description: "d2",
          schema: newSchema,
          originHost: null,
          updatedAt: T0 + 200,
        });
        expect(await store.topics.update("orders", { schema: null, description: null }, T0 + 300)).toMatchObject({
          description: null,
          schema: null,
          updatedAt: T0 + 300,
        });
        expect(await store.topics.update("orders", {}, T0 + 400)).toMatchObject({ updatedAt: T0 + 400, createdAt: T0 });
      });

      it("updates nothing for an unknown topic", async () => {
        expect(await store.topics.update("nope", { description: "x" }, T0)).toBeUndefined();
        expect(await store.topics.get("nope")).toBeUndefined();
      });

      it("deletes a topic and its events, and nothing else", async () => {
        const kept = await append(store, [makeEvent("keep", { time: minutes(1) }), makeEvent("keep", { time: minutes(3) })]);
        const gone = await append(store, [makeEvent("drop", { time: minutes(2) }), makeEvent("drop", { time: minutes(4) })]);
        expect(await store.stats()).toEqual({ events: 4, topics: 2 });

        expect(await store.topics.delete("drop")).toBe(true);
        expect(await store.topics.get("drop")).toBeUndefined();
        for (const r of gone.results) {
          expect(await store.events.get(r.id)).toBeUndefined();
          expect(await store.events.getSeq(r.id)).toBeUndefined();
        }
        const keptIds = kept.results.map((r) => r.id);
        expect((await store.events.readAfter(0, 10)).map((e) => e.id)).toEqual(keptIds);
        expect((await store.events.search({ order: "asc", limit: 10 })).map((e) => e.id)).toEqual(keptIds);
        expect(await store.events.search({ topics: ["drop"], order: "asc", limit: 10 })).toEqual([]);
        expect(await store.stats()).toEqual({ events: 2, topics: 1 });
        expect((await store.topics.get("keep"))?.eventCount).toBe(2);

        expect(await store.topics.delete("drop")).toBe(false);
        expect(await store.topics.delete("never")).toBe(false);
      });

      it("forgets a deleted topic: publishing needs createTopics again, and starts from zero", async () => {
        await append(store, [makeEvent("again"), makeEvent("again")]);
        await store.topics.delete("again");
        const [refused] = await store.events.append([{ events: [makeEvent("again")], createTopics: false }]);
        expect((expectFailed(refused) as HubError).code).toBe("SB_TOPIC_NOT_FOUND");
        await append(store, [makeEvent("again", { receivedAt: T0 + 42 })]);
        expect(await store.topics.get("again")).toMatchObject({ eventCount: 1, lastEventAt: T0 + 42 });
        await store.topics.delete("again");
        await store.topics.create({ name: "again", description: "by hand" }, T0);
        expect(await store.topics.get("again")).toMatchObject({ description: "by hand", eventCount: 0, lastEventAt: null });
      });

      it("moves firstSeq when the oldest events go, and never lets seq go back", async () => {
        const old = await append(store, [makeEvent("old"), makeEvent("old")]);
        const young = await append(store, [makeEvent("young")]);
        const newest = await append(store, [makeEvent("newest")]);
        expect(await store.events.firstSeq()).toBe(old.results[0]!.seq);
        await store.topics.delete("old");
        expect(await store.events.firstSeq()).toBe(young.results[0]!.seq);
        await store.topics.delete("newest");
        const next = await append(store, [makeEvent("later")]);
        expect(next.results[0]!.seq).toBeGreaterThan(newest.results[0]!.seq);
      });
    });

    describe("subscriptions", () => {
      it("creates, reads, finds, lists, patches and deletes", async () => {
        const a = makeSubscription("sub_a", { topic: "orders.*", filter: 'data.x == 1', headers: { "x-k": "v" }, rateLimit: 2.5 });
        const b = makeSubscription("sub_b", { url: "http://b.example/hook" });
        await store.subscriptions.create(a);
        await store.subscriptions.create(b);
        expect(await store.subscriptions.get("sub_a")).toEqual(a);
        expect(await store.subscriptions.get("nope")).toBeUndefined();
        expect((await store.subscriptions.list()).map((s) => s.id)).toEqual(["sub_a", "sub_b"]);
        expect((await store.subscriptions.find("orders.*", a.url))?.id).toBe("sub_a");
        expect(await store.subscriptions.find("orders.*", "http://other")).toBeUndefined();

        const patched = await store.subscriptions.update(
          "sub_a",
          { active: false, disabledReason: "410", retrySchedule: [1, 2.5], filter: null, failingSince: minutes(3) },
          minutes(5),
        );
        expect(patched).toEqual({ ...a, active: false, disabledReason: "410", retrySchedule: [1, 2.5], filter: null, failingSince: minutes(3), updatedAt: minutes(5) });
        expect(await store.subscriptions.update("nope", { active: true }, minutes(5))).toBeUndefined();

        expect(await store.subscriptions.delete("sub_a")).toBe(true);
        expect(await store.subscriptions.delete("sub_a")).toBe(false);
        expect((await store.subscriptions.list()).map((s) => s.id)).toEqual(["sub_b"]);
      });

      it("finds the seq before a receive time", async () => {
        expect(await store.events.seqBefore(minutes(1))).toBe(0);
        const first = await append(store, [makeEvent("t", { receivedAt: minutes(1) }), makeEvent("t", { receivedAt: minutes(2) })]);
        const second = await append(store, [makeEvent("t", { receivedAt: minutes(3) })]);
        expect(await store.events.seqBefore(minutes(0))).toBe(0);
        expect(await store.events.seqBefore(minutes(2))).toBe(first.results[0]!.seq);
        expect(await store.events.seqBefore(minutes(2) + 1)).toBe(first.results[1]!.seq);
        expect(await store.events.seqBefore(minutes(9))).toBe(second.results[0]!.seq);
      });
    });

    describe("deliveries", () => {
      const delivery = (id: string, eventSeq: number, overrides: Partial<NewDelivery> = {}): NewDelivery => ({
        id,
        subscriptionId: "sub_a",
        eventSeq,
        eventId: `evt_${eventSeq}`,
        orderingKey: null,
        nextAttemptAt: minutes(1),
        ...overrides,
      });

      beforeEach(async () => {
        await store.subscriptions.create(makeSubscription("sub_a"));
        await store.subscriptions.create(makeSubscription("sub_b", { url: "http://b.example/hook" }));
      });

      it("adds pending deliveries with the cursor in one call, and lists the open ones in log order", async () => {
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_2", 2, { orderingKey: "k" }), delivery("dlv_1", 1)], cursorSeq: 7, now: minutes(1) });
        await store.deliveries.add({ subscriptionId: "sub_b", deliveries: [delivery("dlv_3", 3, { subscriptionId: "sub_b" })], now: minutes(1) });
        expect((await store.subscriptions.get("sub_a"))!.cursorSeq).toBe(7);
        expect((await store.subscriptions.get("sub_b"))!.cursorSeq).toBe(0);
        // The cursor never moves back.
        await store.deliveries.advanceCursor({ subscriptionId: "sub_a", cursorSeq: 5, now: minutes(2) });
        expect((await store.subscriptions.get("sub_a"))!.cursorSeq).toBe(7);

        const open = await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 10 });
        expect(open.map((d) => d.id)).toEqual(["dlv_1", "dlv_2"]);
        expect(open[1]).toEqual({
          ...delivery("dlv_2", 2, { orderingKey: "k" }),
          status: "pending",
          attempts: 0,
          lastStatus: null,
          lastError: null,
          createdAt: minutes(1),
          updatedAt: minutes(1),
          deliveredAt: null,
        });
        expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 1, limit: 10 })).map((d) => d.id)).toEqual(["dlv_2"]);
        expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 1 })).map((d) => d.id)).toEqual(["dlv_1"]);
      });

      it("pages open deliveries by (event seq, id), so several deliveries of one event are not skipped", async () => {
        // Replays give one event several deliveries; a page may end between them.
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_a", 1), delivery("dlv_b", 2), delivery("dlv_c", 2), delivery("dlv_d", 2), delivery("dlv_e", 3)], cursorSeq: 3, now: minutes(1) });
        const first = await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 2 });
        expect(first.map((d) => d.id)).toEqual(["dlv_a", "dlv_b"]);
        const second = await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 2, limit: 2, afterId: "dlv_b" });
        expect(second.map((d) => d.id)).toEqual(["dlv_c", "dlv_d"]);
        expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 2, limit: 10, afterId: "dlv_d" })).map((d) => d.id)).toEqual(["dlv_e"]);
      });

      it("records attempts and the state they leave; delivered and dead ones are no longer open", async () => {
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3)], cursorSeq: 3, now: minutes(1) });
        const attempt = { latencyMs: 12.5, responseExcerpt: null, error: null };
        await store.deliveries.recordAttempts([
          { ...attempt, deliveryId: "dlv_1", attemptedAt: minutes(2), statusCode: 204, status: "delivered", attempts: 1, nextAttemptAt: null },
          { ...attempt, deliveryId: "dlv_2", attemptedAt: minutes(2), statusCode: 500, responseExcerpt: "boom", status: "retrying", attempts: 1, nextAttemptAt: minutes(4) },
          { ...attempt, deliveryId: "dlv_3", attemptedAt: minutes(2), statusCode: null, error: "timeout", status: "dead", attempts: 1, nextAttemptAt: null },
        ]);
        expect(await store.deliveries.get("dlv_1")).toMatchObject({ status: "delivered", attempts: 1, lastStatus: 204, deliveredAt: minutes(2), updatedAt: minutes(2) });
        expect(await store.deliveries.get("dlv_2")).toMatchObject({ status: "retrying", attempts: 1, lastStatus: 500, nextAttemptAt: minutes(4), deliveredAt: null });
        expect(await store.deliveries.get("dlv_3")).toMatchObject({ status: "dead", lastStatus: null, lastError: "timeout" });
        expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 10 })).map((d) => d.id)).toEqual(["dlv_2"]);
        expect(await store.deliveries.listAttempts("dlv_2")).toEqual([
          { deliveryId: "dlv_2", attemptedAt: minutes(2), statusCode: 500, latencyMs: 12.5, responseExcerpt: "boom", error: null },
        ]);
        expect(await store.deliveries.get("nope")).toBeUndefined();
      });

      it("claims a due retry for one node at a time; recording its attempt ends the claim", async () => {
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3)], cursorSeq: 3, now: minutes(1) });
        const failed = { latencyMs: 1, responseExcerpt: null, error: "500", statusCode: 500, attemptedAt: minutes(1), attempts: 1 };
        await store.deliveries.recordAttempts([
          { ...failed, deliveryId: "dlv_1", status: "retrying", nextAttemptAt: minutes(2) },
          { ...failed, deliveryId: "dlv_2", status: "retrying", nextAttemptAt: minutes(5) },
          { ...failed, deliveryId: "dlv_3", status: "dead", nextAttemptAt: null },
        ]);
        const ids = ["dlv_1", "dlv_2", "dlv_3", "dlv_unknown"];
        // Only open deliveries that are due (not dead ones, nor ones due later).
        expect(await store.deliveries.claimRetries({ nodeId: "node_a", deliveryIds: ids, now: minutes(2), marginMs: 0 })).toEqual(["dlv_1"]);
        // Another node cannot take it while the claim lasts (the subscription's timeout plus the margin)...
        expect(await store.deliveries.claimRetries({ nodeId: "node_b", deliveryIds: ids, now: minutes(2), marginMs: 0 })).toEqual([]);
        // ...nor the same node a second time (its sweep and its worker must not both send it)...
        expect(await store.deliveries.claimRetries({ nodeId: "node_a", deliveryIds: ["dlv_1"], now: minutes(2), marginMs: 0 })).toEqual([]);
        // ...and once it expired, anyone may.
        const expired = minutes(2) + makeSubscription("x").timeoutMs + 1;
        expect(await store.deliveries.claimRetries({ nodeId: "node_b", deliveryIds: ["dlv_1"], now: expired, marginMs: 0 })).toEqual(["dlv_1"]);
        // Recording the attempt ends the claim.
        await store.deliveries.recordAttempts([{ ...failed, deliveryId: "dlv_1", attemptedAt: expired, attempts: 2, status: "retrying", nextAttemptAt: expired }]);
        expect(await store.deliveries.claimRetries({ nodeId: "node_a", deliveryIds: ["dlv_1"], now: expired, marginMs: 0 })).toEqual(["dlv_1"]);
      });

      it("hands due retries to free nodes in disjoint sets, oldest due first, skipping those ordered by key", async () => {
        await store.subscriptions.create(makeSubscription("sub_k", { url: "http://k.example/hook", ordering: "key" }));
        await store.subscriptions.create(makeSubscription("sub_p", { url: "http://p.example/hook", active: false }));
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3), delivery("dlv_4", 4)], cursorSeq: 4, now: minutes(1) });
        await store.deliveries.add({ subscriptionId: "sub_k", deliveries: [delivery("dlv_k", 5, { subscriptionId: "sub_k" })], cursorSeq: 5, now: minutes(1) });
        await store.deliveries.add({ subscriptionId: "sub_p", deliveries: [delivery("dlv_p", 6, { subscriptionId: "sub_p" })], cursorSeq: 6, now: minutes(1) });
        const failed = { latencyMs: 1, responseExcerpt: null, error: "500", statusCode: 500, attemptedAt: minutes(1), attempts: 1, status: "retrying" as const };
        await store.deliveries.recordAttempts([
          { ...failed, deliveryId: "dlv_1", nextAttemptAt: minutes(3) },
          { ...failed, deliveryId: "dlv_2", nextAttemptAt: minutes(2) },
          { ...failed, deliveryId: "dlv_3", nextAttemptAt: minutes(4) },
          { ...failed, deliveryId: "dlv_4", nextAttemptAt: minutes(30) },
          { ...failed, deliveryId: "dlv_k", nextAttemptAt: minutes(2) },
          { ...failed, deliveryId: "dlv_p", nextAttemptAt: minutes(2) },
        ]);
        // Not while the subscription's holder renews its lease (it keeps its retries); once the lease is stale, yes.
        await store.leases.acquire({ nodeId: "node_x", subscriptionIds: ["sub_a"], ttlMs: 10 * 60_000, now: minutes(10) }); // expires at minutes(20)
        expect(await store.deliveries.claimDueRetries({ nodeId: "node_a", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 10, leaseStaleBefore: minutes(20) })).toEqual([]);
        await store.leases.release({ nodeId: "node_x", subscriptionIds: ["sub_a"] });
        // Oldest due first.
        const first = await store.deliveries.claimDueRetries({ nodeId: "node_a", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 1, leaseStaleBefore: minutes(10) });
        expect(first.map((d) => d.id)).toEqual(["dlv_2"]);
        expect(first[0]).toMatchObject({ subscriptionId: "sub_a", status: "retrying", attempts: 1, nextAttemptAt: minutes(2) });
        // Two nodes at once get disjoint sets: every due retry of an active, unordered subscription goes to exactly one
        // of them; not the paused, keyed or future ones, nor the one node_a holds.
        const [b, c] = await Promise.all([
          store.deliveries.claimDueRetries({ nodeId: "node_b", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 2, leaseStaleBefore: minutes(10) }),
          store.deliveries.claimDueRetries({ nodeId: "node_c", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 2, leaseStaleBefore: minutes(10) }),
        ]);
        expect([...b, ...c].map((d) => d.id).sort()).toEqual(["dlv_1", "dlv_3"]);
        expect(await store.deliveries.claimDueRetries({ nodeId: "node_d", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 10, leaseStaleBefore: minutes(10) })).toEqual([]);
        // Claimed this way, they are the claimers': another node cannot claim them for sending.
        expect(await store.deliveries.claimRetries({ nodeId: "node_z", deliveryIds: ["dlv_1", "dlv_2", "dlv_3"], now: minutes(10), marginMs: 0 })).toEqual([]);
        // Only retries due by `dueBefore`.
        expect(await store.deliveries.claimDueRetries({ nodeId: "node_d", dueBefore: minutes(29), now: minutes(10), marginMs: 0, limit: 10, leaseStaleBefore: minutes(10) })).toEqual([]);
        expect((await store.deliveries.claimDueRetries({ nodeId: "node_d", dueBefore: minutes(30), now: minutes(10), marginMs: 0, limit: 10, leaseStaleBefore: minutes(10) })).map((d) => d.id)).toEqual(["dlv_4"]);
      });

      it("searches newest first by subscription, event, status and time, with a cursor", async () => {
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2)], cursorSeq: 2, now: minutes(1) });
        await store.deliveries.add({ subscriptionId: "sub_b", deliveries: [delivery("dlv_3", 1, { subscriptionId: "sub_b" })], now: minutes(3) });
        const ids = async (q: Parameters<Store["deliveries"]["search"]>[0]) => (await store.deliveries.search(q)).map((d) => d.id);
        expect(await ids({ limit: 10 })).toEqual(["dlv_3", "dlv_2", "dlv_1"]);
        expect(await ids({ subscriptionId: "sub_a", limit: 10 })).toEqual(["dlv_2", "dlv_1"]);
        expect(await ids({ eventId: "evt_1", limit: 10 })).toEqual(["dlv_3", "dlv_1"]);
        expect(await ids({ status: "pending", fromTime: minutes(2), limit: 10 })).toEqual(["dlv_3"]);
        expect(await ids({ toTime: minutes(2), limit: 10 })).toEqual(["dlv_2", "dlv_1"]);
        expect(await ids({ beforeId: "dlv_3", limit: 1 })).toEqual(["dlv_2"]);
      });

      it("retries one delivery, or the dead ones of a subscription in a time range, as a new round", async () => {
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3)], cursorSeq: 3, now: minutes(1) });
        const dead = { latencyMs: 1, responseExcerpt: null, error: "x", statusCode: 500, status: "dead" as const, attempts: 3, nextAttemptAt: null };
        await store.deliveries.recordAttempts([
          { ...dead, deliveryId: "dlv_1", attemptedAt: minutes(2) },
          { ...dead, deliveryId: "dlv_2", attemptedAt: minutes(2) },
        ]);
        const retried = await store.deliveries.retry({ subscriptionId: "sub_a" }, minutes(9));
        expect(retried.map((d) => [d.id, d.status, d.attempts, d.nextAttemptAt])).toEqual([
          ["dlv_1", "pending", 0, minutes(9)],
          ["dlv_2", "pending", 0, minutes(9)],
        ]);
        expect(await store.deliveries.retry({ subscriptionId: "sub_a", fromTime: minutes(5) }, minutes(9))).toEqual([]);
        expect((await store.deliveries.retry({ deliveryId: "dlv_3" }, minutes(10))).map((d) => d.id)).toEqual(["dlv_3"]);
        // Attempts of earlier rounds stay on record.
        expect(await store.deliveries.listAttempts("dlv_1")).toHaveLength(1);
      });

      it("prunes old attempts in bounded batches, and deleting a subscription removes its deliveries", async () => {
        await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1)], cursorSeq: 1, now: minutes(1) });
        const failed = { deliveryId: "dlv_1", latencyMs: 1, responseExcerpt: null, error: null, statusCode: 500, status: "retrying" as const, attempts: 1, nextAttemptAt: minutes(9) };
        await store.deliveries.recordAttempts([1, 2, 3].map((m) => ({ ...failed, attemptedAt: minutes(m) })));
        expect(await store.deliveries.pruneAttempts({ before: minutes(3), limit: 1 })).toBe(1);
        expect(await store.deliveries.pruneAttempts({ before: minutes(3), limit: 10 })).toBe(1);
        expect((await store.deliveries.listAttempts("dlv_1")).map((a) => a.attemptedAt)).toEqual([minutes(3)]);
        await store.subscriptions.delete("sub_a");
        expect(await store.deliveries.get("dlv_1")).toBeUndefined();
        expect(await store.deliveries.listAttempts("dlv_1")).toEqual([]);
      });
    });

    describe("API keys", () => {
      const key = (id: string, overrides: Partial<ApiKey> = {}): ApiKey => ({
        id,
        name: null,
        hash: `hash-of-${id}`,
        prefix: "sbk_abcd",
        scopes: ["publish:orders.*"],
        createdAt: T0,
        revokedAt: null,
        ...overrides,
      });

      it("stores a key and finds it by hash, with every field as given", async () => {
        const k = key("key_01", { name: "ci", scopes: ["publish:orders.**", "subscribe:*", "admin"] });
        await store.keys.create(k);
        expect(await store.keys.findByHash("hash-of-key_01")).toEqual(k);
        expect(await store.keys.findByHash("hash-of-nothing")).toBeUndefined();
      });

      it("lists keys oldest first and counts the active ones", async () => {
        expect(await store.keys.list()).toEqual([]);
        expect(await store.keys.countActive()).toBe(0);
        await store.keys.create(key("key_02"));
        await store.keys.create(key("key_01"));
        await store.keys.create(key("key_03", { revokedAt: minutes(1) }));
        expect((await store.keys.list()).map((k) => k.id)).toEqual(["key_01", "key_02", "key_03"]);
        expect(await store.keys.countActive()).toBe(2);
      });

      it("refuses a second key with the same hash or id (409)", async () => {
        await store.keys.create(key("key_01"));
        await expectHubError(store.keys.create(key("key_02", { hash: "hash-of-key_01" })), "SB_API_KEY_EXISTS", 409);
        await expectHubError(store.keys.create(key("key_01", { hash: "other" })), "SB_API_KEY_EXISTS", 409);
        expect(await store.keys.list()).toHaveLength(1);
      });

      it("revokes a key, keeping the first revocation time; an unknown id gives undefined", async () => {
        await store.keys.create(key("key_01"));
        await store.keys.create(key("key_02"));
        expect(await store.keys.revoke("key_01", minutes(5))).toEqual(key("key_01", { revokedAt: minutes(5) }));
        expect((await store.keys.revoke("key_01", minutes(9)))?.revokedAt).toBe(minutes(5));
        expect((await store.keys.findByHash("hash-of-key_01"))?.revokedAt).toBe(minutes(5));
        expect(await store.keys.countActive()).toBe(1);
        expect(await store.keys.revoke("key_nope", minutes(5))).toBeUndefined();
        expect((await store.keys.findByHash("hash-of-key_02"))?.revokedAt).toBeNull();
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
        const old = await append(store, [0, 1, 2, 3, 4].map((i) => makeEvent("logs", { receivedAt: minutes(i) })));
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

    describe("subscription leases", () => {
      const TTL = 10_000;

      it("gives each subscription to one node of two contending ones", async () => {
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1", "sub_2"], ttlMs: TTL, now: T0 })).toEqual(expect.arrayContaining(["sub_1", "sub_2"]));
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1", "sub_2", "sub_3"], ttlMs: TTL, now: T0 + 1 })).toEqual(["sub_3"]);
        expect((await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1", "sub_2", "sub_3"], ttlMs: TTL, now: T0 + 2 })).sort()).toEqual(["sub_1", "sub_2"]);
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: [], ttlMs: TTL, now: T0 + 3 })).toEqual([]);
      });

      it("lets another node take over an expired lease, and the old holder loses it", async () => {
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 })).toEqual(["sub_1"]);
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + TTL - 1 })).toEqual([]);
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + TTL + 1 })).toEqual(["sub_1"]);
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + TTL + 2 })).toEqual([]);
      });

      it("keeps a lease its holder renews before it expires", async () => {
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 })).toEqual(["sub_1"]);
        // Renewed at 0.8 TTL: it now runs to 1.8 TTL, so node_b cannot take it at 1.5 TTL.
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + 0.8 * TTL })).toEqual(["sub_1"]);
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + 1.5 * TTL })).toEqual([]);
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + 1.8 * TTL + 1 })).toEqual(["sub_1"]);
      });

      it("frees a released lease at once, and only the holder's", async () => {
        expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1", "sub_2"], ttlMs: TTL, now: T0 })).toHaveLength(2);
        await store.leases.release({ nodeId: "node_b", subscriptionIds: ["sub_1"] }); // not node_b's: no effect
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1"], ttlMs: TTL, now: T0 + 1 })).toEqual([]);
        await store.leases.release({ nodeId: "node_a", subscriptionIds: ["sub_1"] });
        expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1", "sub_2"], ttlMs: TTL, now: T0 + 2 })).toEqual(["sub_1"]);
        await store.leases.release({ nodeId: "node_a", subscriptionIds: [] });
      });

      it("counts the delivering nodes seen within a lease's lifetime, and forgets one that leaves", async () => {
        expect(await store.leases.heartbeat({ nodeId: "node_a", now: T0, ttlMs: TTL })).toBe(1);
        expect(await store.leases.heartbeat({ nodeId: "node_b", now: T0 + 1, ttlMs: TTL })).toBe(2);
        expect(await store.leases.heartbeat({ nodeId: "node_a", now: T0 + TTL, ttlMs: TTL })).toBe(2);
        // node_b was last seen more than a TTL ago.
        expect(await store.leases.heartbeat({ nodeId: "node_a", now: T0 + TTL + 2, ttlMs: TTL })).toBe(1);
        expect(await store.leases.heartbeat({ nodeId: "node_c", now: T0 + TTL + 3, ttlMs: TTL })).toBe(2);
        await store.leases.removeNode("node_c");
        expect(await store.leases.heartbeat({ nodeId: "node_a", now: T0 + TTL + 4, ttlMs: TTL })).toBe(1);
      });
    });

    describe("stats, ping and close", () => {
      it("counts events and topics", async () => {
        expect(await store.stats()).toEqual({ events: 0, topics: 0 });
        await store.topics.create({ name: "empty" }, T0);
        await append(store, [makeEvent("a"), makeEvent("a"), makeEvent("b")]);
        await append(store, [clientEvent("dup", "b")]);
        await append(store, [clientEvent("dup", "b")]);
        expect(await store.stats()).toEqual({ events: 4, topics: 3 });
      });

      it("pings while open and refuses once closed; closing twice is harmless", async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await expect(store.ping()).rejects.toThrow();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}

/** A subscription with every field set; overrides replace fields. */
export function makeSubscription(id: string, overrides: Partial<Subscription> = {}): Subscription {
  return {
    id,
    topic: "orders",
    url: "http://a.example/hook",
    filter: null,
    headers: {},
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    active: true,
    disabledReason: null,
    ordering: "none",
    retrySchedule: [0, 5, 30],
    timeoutMs: 10_000,
    maxInFlight: 16,
    rateLimit: null,
    body: "data",
    cursorSeq: 0,
    failingSince: null,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}
