/** Store conformance: topics. */
import { beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../../../src/errors.js";
import type { Store } from "../../../src/store/store.js";
import { T0, append, expectFailed, expectHubError, makeEvent, minutes, type SuiteState } from "./helpers.js";

/** Registers the topics tests; `state` holds the store of the running test. */
export function topicsConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
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
        storage: "log",
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
        storage: "log",
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
        storage: "log",
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

    it("keeps a topic's storage (default log), and changes it both ways without touching its stored events", async () => {
      expect((await store.topics.create({ name: "ticks", storage: "none" }, T0)).storage).toBe("none");
      expect(await store.topics.get("ticks")).toMatchObject({ storage: "none", eventCount: 0 });
      expect((await store.topics.list()).map((t) => [t.name, t.storage])).toEqual([["ticks", "none"]]);

      await append(store, [makeEvent("orders"), makeEvent("orders")]);
      expect((await store.topics.get("orders"))?.storage).toBe("log");
      const live = await store.topics.update("orders", { storage: "none" }, T0 + 100);
      expect(live).toMatchObject({ storage: "none", eventCount: 2, updatedAt: T0 + 100 });
      expect(await store.events.search({ topics: ["orders"], order: "asc", limit: 10 })).toHaveLength(2);
      expect(await store.topics.update("orders", { description: "d" }, T0 + 200)).toMatchObject({ storage: "none", description: "d" });
      expect(await store.topics.update("orders", { storage: "log" }, T0 + 300)).toMatchObject({ storage: "log", eventCount: 2 });
      expect((await store.topics.get("orders"))?.storage).toBe("log");
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
        expect((await store.events.get(r.id))?.seq).toBeUndefined();
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
}
