/** Store conformance: subscription leases and delivering nodes. */
import { beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/store/store.js";
import { T0, type SuiteState } from "./helpers.js";

/** Registers the subscription leases and delivering nodes tests; `state` holds the store of the running test. */
export function leasesConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
  });

  describe("subscription leases", () => {
    const TTL = 10_000;

    it("gives each subscription to one node of two contending ones", async () => {
      expect(await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1", "sub_2"], ttlMs: TTL, now: T0 })).toEqual(
        expect.arrayContaining(["sub_1", "sub_2"]),
      );
      expect(await store.leases.acquire({ nodeId: "node_b", subscriptionIds: ["sub_1", "sub_2", "sub_3"], ttlMs: TTL, now: T0 + 1 })).toEqual(["sub_3"]);
      expect((await store.leases.acquire({ nodeId: "node_a", subscriptionIds: ["sub_1", "sub_2", "sub_3"], ttlMs: TTL, now: T0 + 2 })).sort()).toEqual([
        "sub_1",
        "sub_2",
      ]);
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
}
