/** Store conformance: deliveries, attempts, cursors and retry claims. */
import { beforeEach, describe, expect, it } from "vitest";
import type { NewDelivery, Store } from "../../../src/store/store.js";
import { makeSubscription, minutes, type SuiteState } from "./helpers.js";

/** Registers the deliveries, attempts, cursors and retry claims tests; `state` holds the store of the running test. */
export function deliveriesConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
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
      await store.deliveries.add({
        subscriptionId: "sub_a",
        deliveries: [delivery("dlv_2", 2, { orderingKey: "k" }), delivery("dlv_1", 1)],
        cursorSeq: 7,
        now: minutes(1),
      });
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

    it("adds the deliveries and cursors of several subscriptions in one transaction, all or nothing", async () => {
      await store.subscriptions.create(makeSubscription("sub_c", { url: "http://c.example/hook" }));
      await store.deliveries.addAll([
        { subscriptionId: "sub_a", deliveries: [delivery("dlv_a1", 1), delivery("dlv_a2", 2, { orderingKey: "k" })], cursorSeq: 4, now: minutes(1) },
        { subscriptionId: "sub_b", deliveries: [delivery("dlv_b2", 2, { subscriptionId: "sub_b" })], now: minutes(2) },
        // A page that selected nothing: its cursor alone.
        { subscriptionId: "sub_c", deliveries: [], cursorSeq: 6, now: minutes(3) },
      ]);
      expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 10 })).map((d) => [d.id, d.orderingKey, d.createdAt])).toEqual([
        ["dlv_a1", null, minutes(1)],
        ["dlv_a2", "k", minutes(1)],
      ]);
      expect((await store.deliveries.listOpen({ subscriptionId: "sub_b", afterSeq: 0, limit: 10 })).map((d) => [d.id, d.createdAt])).toEqual([
        ["dlv_b2", minutes(2)],
      ]);
      expect((await store.subscriptions.get("sub_a"))!.cursorSeq).toBe(4);
      expect((await store.subscriptions.get("sub_b"))!.cursorSeq).toBe(0);
      expect((await store.subscriptions.get("sub_c"))!.cursorSeq).toBe(6);
      // Two requests of one subscription: the cursor goes to the furthest, never back.
      await store.deliveries.addAll([
        { subscriptionId: "sub_c", deliveries: [], cursorSeq: 9, now: minutes(4) },
        { subscriptionId: "sub_c", deliveries: [], cursorSeq: 8, now: minutes(4) },
        { subscriptionId: "sub_a", deliveries: [], cursorSeq: 3, now: minutes(4) },
      ]);
      expect((await store.subscriptions.get("sub_c"))!.cursorSeq).toBe(9);
      expect((await store.subscriptions.get("sub_a"))!.cursorSeq).toBe(4);
      // A repeated delivery id fails the whole call: nothing of it is stored, no cursor moves.
      await expect(
        store.deliveries.addAll([
          { subscriptionId: "sub_b", deliveries: [delivery("dlv_b3", 3, { subscriptionId: "sub_b" })], cursorSeq: 5, now: minutes(5) },
          { subscriptionId: "sub_a", deliveries: [delivery("dlv_a1", 5)], cursorSeq: 5, now: minutes(5) },
        ]),
      ).rejects.toThrow();
      expect(await store.deliveries.get("dlv_b3")).toBeUndefined();
      expect((await store.subscriptions.get("sub_b"))!.cursorSeq).toBe(0);
      expect((await store.subscriptions.get("sub_a"))!.cursorSeq).toBe(4);
    });

    it("pages open deliveries by (event seq, id), so several deliveries of one event are not skipped", async () => {
      // Replays give one event several deliveries; a page may end between them.
      await store.deliveries.add({
        subscriptionId: "sub_a",
        deliveries: [delivery("dlv_a", 1), delivery("dlv_b", 2), delivery("dlv_c", 2), delivery("dlv_d", 2), delivery("dlv_e", 3)],
        cursorSeq: 3,
        now: minutes(1),
      });
      const first = await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 2 });
      expect(first.map((d) => d.id)).toEqual(["dlv_a", "dlv_b"]);
      const second = await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 2, limit: 2, afterId: "dlv_b" });
      expect(second.map((d) => d.id)).toEqual(["dlv_c", "dlv_d"]);
      expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 2, limit: 10, afterId: "dlv_d" })).map((d) => d.id)).toEqual(["dlv_e"]);
    });

    it("records attempts and the state they leave; delivered and dead ones are no longer open", async () => {
      await store.deliveries.add({
        subscriptionId: "sub_a",
        deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3)],
        cursorSeq: 3,
        now: minutes(1),
      });
      const attempt = { subscriptionId: "sub_a", latencyMs: 12.5, responseExcerpt: null, error: null };
      await store.deliveries.recordAttempts([
        { ...attempt, deliveryId: "dlv_1", attemptedAt: minutes(2), statusCode: 204, status: "delivered", attempts: 1, nextAttemptAt: null },
        {
          ...attempt,
          deliveryId: "dlv_2",
          attemptedAt: minutes(2),
          statusCode: 500,
          responseExcerpt: "boom",
          status: "retrying",
          attempts: 1,
          nextAttemptAt: minutes(4),
        },
        { ...attempt, deliveryId: "dlv_3", attemptedAt: minutes(2), statusCode: null, error: "timeout", status: "dead", attempts: 1, nextAttemptAt: null },
      ]);
      expect(await store.deliveries.get("dlv_1")).toMatchObject({
        status: "delivered",
        attempts: 1,
        lastStatus: 204,
        deliveredAt: minutes(2),
        updatedAt: minutes(2),
      });
      expect(await store.deliveries.get("dlv_2")).toMatchObject({
        status: "retrying",
        attempts: 1,
        lastStatus: 500,
        nextAttemptAt: minutes(4),
        deliveredAt: null,
      });
      expect(await store.deliveries.get("dlv_3")).toMatchObject({ status: "dead", lastStatus: null, lastError: "timeout" });
      expect((await store.deliveries.listOpen({ subscriptionId: "sub_a", afterSeq: 0, limit: 10 })).map((d) => d.id)).toEqual(["dlv_2"]);
      expect(await store.deliveries.listAttempts("dlv_2")).toEqual([
        { deliveryId: "dlv_2", attemptedAt: minutes(2), statusCode: 500, latencyMs: 12.5, responseExcerpt: "boom", error: null },
      ]);
      expect(await store.deliveries.get("nope")).toBeUndefined();
    });

    it("claims a due retry for one node at a time; recording its attempt ends the claim", async () => {
      await store.deliveries.add({
        subscriptionId: "sub_a",
        deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3)],
        cursorSeq: 3,
        now: minutes(1),
      });
      const failed = { subscriptionId: "sub_a", latencyMs: 1, responseExcerpt: null, error: "500", statusCode: 500, attemptedAt: minutes(1), attempts: 1 };
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
      await store.deliveries.recordAttempts([
        { ...failed, deliveryId: "dlv_1", attemptedAt: expired, attempts: 2, status: "retrying", nextAttemptAt: expired },
      ]);
      expect(await store.deliveries.claimRetries({ nodeId: "node_a", deliveryIds: ["dlv_1"], now: expired, marginMs: 0 })).toEqual(["dlv_1"]);
    });

    it("releases only the node's own claims, and those at once", async () => {
      await store.deliveries.add({ subscriptionId: "sub_a", deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2)], cursorSeq: 2, now: minutes(1) });
      const failed = { subscriptionId: "sub_a", latencyMs: 1, responseExcerpt: null, error: "500", statusCode: 500, attemptedAt: minutes(1), attempts: 1 };
      await store.deliveries.recordAttempts([
        { ...failed, deliveryId: "dlv_1", status: "retrying", nextAttemptAt: minutes(2) },
        { ...failed, deliveryId: "dlv_2", status: "retrying", nextAttemptAt: minutes(2) },
      ]);
      expect(await store.deliveries.claimRetries({ nodeId: "node_a", deliveryIds: ["dlv_1"], now: minutes(2), marginMs: 0 })).toEqual(["dlv_1"]);
      expect(await store.deliveries.claimRetries({ nodeId: "node_b", deliveryIds: ["dlv_2"], now: minutes(2), marginMs: 0 })).toEqual(["dlv_2"]);
      // node_a lets go of dlv_1 (and of nothing it does not hold): another node may claim it before the claim expires.
      await store.deliveries.releaseClaims({ nodeId: "node_a", deliveryIds: ["dlv_1", "dlv_2", "dlv_unknown"] });
      await store.deliveries.releaseClaims({ nodeId: "node_a", deliveryIds: [] });
      expect(await store.deliveries.claimRetries({ nodeId: "node_c", deliveryIds: ["dlv_1", "dlv_2"], now: minutes(2), marginMs: 0 })).toEqual(["dlv_1"]);
      // The delivery itself is as it was.
      expect(await store.deliveries.get("dlv_1")).toMatchObject({ status: "retrying", attempts: 1, nextAttemptAt: minutes(2) });
    });

    it("hands due retries to free nodes in disjoint sets, oldest due first, skipping those ordered by key", async () => {
      await store.subscriptions.create(makeSubscription("sub_k", { url: "http://k.example/hook", ordering: "key" }));
      await store.subscriptions.create(makeSubscription("sub_p", { url: "http://p.example/hook", active: false }));
      await store.deliveries.add({
        subscriptionId: "sub_a",
        deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3), delivery("dlv_4", 4)],
        cursorSeq: 4,
        now: minutes(1),
      });
      await store.deliveries.add({ subscriptionId: "sub_k", deliveries: [delivery("dlv_k", 5, { subscriptionId: "sub_k" })], cursorSeq: 5, now: minutes(1) });
      await store.deliveries.add({ subscriptionId: "sub_p", deliveries: [delivery("dlv_p", 6, { subscriptionId: "sub_p" })], cursorSeq: 6, now: minutes(1) });
      const failed = {
        subscriptionId: "sub_a",
        latencyMs: 1,
        responseExcerpt: null,
        error: "500",
        statusCode: 500,
        attemptedAt: minutes(1),
        attempts: 1,
        status: "retrying" as const,
      };
      await store.deliveries.recordAttempts([
        { ...failed, deliveryId: "dlv_1", nextAttemptAt: minutes(3) },
        { ...failed, deliveryId: "dlv_2", nextAttemptAt: minutes(2) },
        { ...failed, deliveryId: "dlv_3", nextAttemptAt: minutes(4) },
        { ...failed, deliveryId: "dlv_4", nextAttemptAt: minutes(30) },
        { ...failed, deliveryId: "dlv_k", subscriptionId: "sub_k", nextAttemptAt: minutes(2) },
        { ...failed, deliveryId: "dlv_p", subscriptionId: "sub_p", nextAttemptAt: minutes(2) },
      ]);
      // Not while the subscription's holder renews its lease (it keeps its retries); once the lease is stale, yes.
      await store.leases.acquire({ nodeId: "node_x", subscriptionIds: ["sub_a"], ttlMs: 10 * 60_000, now: minutes(10) }); // expires at minutes(20)
      expect(
        await store.deliveries.claimDueRetries({
          nodeId: "node_a",
          dueBefore: minutes(10),
          now: minutes(10),
          marginMs: 0,
          limit: 10,
          leaseStaleBefore: minutes(20),
        }),
      ).toEqual([]);
      await store.leases.release({ nodeId: "node_x", subscriptionIds: ["sub_a"] });
      // Oldest due first.
      const first = await store.deliveries.claimDueRetries({
        nodeId: "node_a",
        dueBefore: minutes(10),
        now: minutes(10),
        marginMs: 0,
        limit: 1,
        leaseStaleBefore: minutes(10),
      });
      expect(first.map((d) => d.id)).toEqual(["dlv_2"]);
      expect(first[0]).toMatchObject({ subscriptionId: "sub_a", status: "retrying", attempts: 1, nextAttemptAt: minutes(2) });
      // Two nodes at once get disjoint sets: every due retry of an active, unordered subscription goes to exactly one
      // of them; not the paused, keyed or future ones, nor the one node_a holds.
      const [b, c] = await Promise.all([
        store.deliveries.claimDueRetries({ nodeId: "node_b", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 2, leaseStaleBefore: minutes(10) }),
        store.deliveries.claimDueRetries({ nodeId: "node_c", dueBefore: minutes(10), now: minutes(10), marginMs: 0, limit: 2, leaseStaleBefore: minutes(10) }),
      ]);
      expect([...b, ...c].map((d) => d.id).sort()).toEqual(["dlv_1", "dlv_3"]);
      expect(
        await store.deliveries.claimDueRetries({
          nodeId: "node_d",
          dueBefore: minutes(10),
          now: minutes(10),
          marginMs: 0,
          limit: 10,
          leaseStaleBefore: minutes(10),
        }),
      ).toEqual([]);
      // Claimed this way, they are the claimers': another node cannot claim them for sending.
      expect(await store.deliveries.claimRetries({ nodeId: "node_z", deliveryIds: ["dlv_1", "dlv_2", "dlv_3"], now: minutes(10), marginMs: 0 })).toEqual([]);
      // Only retries due by `dueBefore`.
      expect(
        await store.deliveries.claimDueRetries({
          nodeId: "node_d",
          dueBefore: minutes(29),
          now: minutes(10),
          marginMs: 0,
          limit: 10,
          leaseStaleBefore: minutes(10),
        }),
      ).toEqual([]);
      expect(
        (
          await store.deliveries.claimDueRetries({
            nodeId: "node_d",
            dueBefore: minutes(30),
            now: minutes(10),
            marginMs: 0,
            limit: 10,
            leaseStaleBefore: minutes(10),
          })
        ).map((d) => d.id),
      ).toEqual(["dlv_4"]);
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
      await store.deliveries.add({
        subscriptionId: "sub_a",
        deliveries: [delivery("dlv_1", 1), delivery("dlv_2", 2), delivery("dlv_3", 3)],
        cursorSeq: 3,
        now: minutes(1),
      });
      const dead = {
        subscriptionId: "sub_a",
        latencyMs: 1,
        responseExcerpt: null,
        error: "x",
        statusCode: 500,
        status: "dead" as const,
        attempts: 3,
        nextAttemptAt: null,
      };
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
      const failed = {
        deliveryId: "dlv_1",
        subscriptionId: "sub_a",
        latencyMs: 1,
        responseExcerpt: null,
        error: null,
        statusCode: 500,
        status: "retrying" as const,
        attempts: 1,
        nextAttemptAt: minutes(9),
      };
      await store.deliveries.recordAttempts([1, 2, 3].map((m) => ({ ...failed, attemptedAt: minutes(m) })));
      expect(await store.deliveries.pruneAttempts({ before: minutes(3), limit: 1 })).toBe(1);
      expect(await store.deliveries.pruneAttempts({ before: minutes(3), limit: 10 })).toBe(1);
      expect((await store.deliveries.listAttempts("dlv_1")).map((a) => a.attemptedAt)).toEqual([minutes(3)]);
      await store.subscriptions.delete("sub_a");
      expect(await store.deliveries.get("dlv_1")).toBeUndefined();
      expect(await store.deliveries.listAttempts("dlv_1")).toEqual([]);
    });
  });
}
