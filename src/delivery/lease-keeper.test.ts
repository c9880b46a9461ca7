import pino from "pino";
import { describe, expect, it } from "vitest";
import type { DeliveryStore } from "./delivery-store.js";
import { LeaseKeeper, type LeaseKeeperOptions } from "./lease-keeper.js";

const TTL = 10_000;
const RENEW = 2_000;

/** A store of one lease table in memory, `nodes` delivering nodes, this one the only holder. */
function leaseStore(nodes: () => number) {
  const released: string[] = [];
  const acquired: string[][] = [];
  const store = {
    leases: {
      heartbeat: async () => nodes(),
      acquire: async ({ subscriptionIds }: { subscriptionIds: string[] }) => (acquired.push(subscriptionIds), subscriptionIds),
      release: async ({ subscriptionIds }: { subscriptionIds: string[] }) => void released.push(...subscriptionIds),
      removeNode: async () => {},
    },
  } as unknown as DeliveryStore;
  return { store, released, acquired };
}

/** The keeper of node_a, on a fake clock, recording each lease it gains or loses in `changed`. */
function nodeA(store: LeaseKeeperOptions["store"], now: () => number, changed: string[]): LeaseKeeper {
  return new LeaseKeeper({ store, log: pino({ level: "silent" }), now, nodeId: "node_a", ttlMs: TTL, renewMs: RENEW, onChange: (id) => changed.push(id) });
}

describe("LeaseKeeper (fake clock)", () => {
  it("keeps its leases through failed renewals until one renewal before the TTL, then gives them all up", async () => {
    let t = 1_000_000;
    const changed: string[] = [];
    const { store } = leaseStore(() => 1);
    const keeper = nodeA(store, () => t, changed);
    await keeper.claimInitial(["sub_a", "sub_b"]);
    expect([keeper.holds("sub_a"), keeper.holds("sub_b")]).toEqual([true, true]);

    const unreachable = async (): Promise<string[]> => {
      throw new Error("connection refused");
    };
    t += TTL - RENEW - 1; // the leases are still valid for more than one renewal
    await keeper.renew(unreachable);
    expect(changed).toEqual([]);
    expect(keeper.holds("sub_a")).toBe(true);

    t += 1; // another node may take them over within one renewal: stop delivering now
    await keeper.renew(unreachable);
    expect(changed.sort()).toEqual(["sub_a", "sub_b"]);
    expect([keeper.holds("sub_a"), keeper.holds("sub_b")]).toEqual([false, false]);
  });

  it("hands over what exceeds its share when a second node appears", async () => {
    let t = 0;
    let nodes = 1;
    const changed: string[] = [];
    const { store, released, acquired } = leaseStore(() => nodes);
    const keeper = nodeA(store, () => t, changed);
    const ids = ["sub_1", "sub_2", "sub_3", "sub_4"];
    await keeper.claimInitial(ids);
    expect(ids.filter((id) => keeper.holds(id))).toHaveLength(4);

    nodes = 2;
    t += RENEW;
    await keeper.renew(async () => ids);
    expect(ids.filter((id) => keeper.holds(id))).toHaveLength(2);
    expect(changed).toHaveLength(2);
    // Released only once the worker stopped (the dispatcher's restart asks); renewed until then.
    expect(released).toEqual([]);
    t += RENEW;
    acquired.length = 0;
    await keeper.renew(async () => ids);
    expect(acquired[0]!.sort()).toEqual([...ids].sort());
    expect(ids.filter((id) => keeper.holds(id))).toHaveLength(2);
    expect(changed).toHaveLength(2);
    for (const id of changed) expect(await keeper.handOverIfDue(id)).toBe(true);
    expect(released.sort()).toEqual([...changed].sort());
  });
});

/**
 * A lease table in memory shared by the nodes; `during(ids)` runs inside every acquire before it takes anything, and
 * `after(ids)` after it took them and before it answers, to interleave a node's own `acquire()` with its renewal.
 * Taken leases come back in descending order.
 */
function sharedLeases(nodes: number, during: (ids: string[]) => Promise<void>, after: (ids: string[]) => Promise<void> = async () => {}) {
  const holder = new Map<string, string>();
  const store = {
    leases: {
      heartbeat: async () => nodes,
      acquire: async ({ nodeId, subscriptionIds }: { nodeId: string; subscriptionIds: string[] }) => {
        await during(subscriptionIds);
        const got = subscriptionIds.filter((id) => (holder.get(id) ?? nodeId) === nodeId);
        for (const id of got) holder.set(id, nodeId);
        await after(subscriptionIds);
        return got.sort().reverse();
      },
      release: async ({ nodeId, subscriptionIds }: { nodeId: string; subscriptionIds: string[] }) => {
        for (const id of subscriptionIds) if (holder.get(id) === nodeId) holder.delete(id);
      },
      removeNode: async () => {},
    },
  } as unknown as DeliveryStore;
  return { store, holder };
}

describe("LeaseKeeper: a subscription acquired while a renewal runs", () => {
  it("waits for the renewal before it claims the lease", async () => {
    const node: { keeper?: LeaseKeeper } = {};
    const calls: string[] = [];
    let acquiring: Promise<boolean> | undefined;
    const { store, holder } = sharedLeases(2, async (ids) => {
      calls.push(ids.join(","));
      // The renewal's claim of free leases: the new subscription's acquire() is called now.
      if (acquiring === undefined && ids.length > 1 && ids.includes("sub_2")) acquiring = node.keeper!.acquire("sub_2");
    });
    const keeper = (node.keeper = nodeA(store, () => 0, []));
    await keeper.claimInitial(["sub_1"]);
    calls.length = 0;
    await keeper.renew(async () => ["sub_1", "sub_2", "sub_3", "sub_4"]);
    expect(calls.slice(0, 2).map((c) => c.split(",").length)).toEqual([1, 3]); // the held lease, then the free ones
    expect(await acquiring).toBe(true);
    expect(keeper.holds("sub_2")).toBe(true);
    expect(holder.get("sub_2")).toBe("node_a");
  });

  it("leaves alone a lease whose acquire() has taken it but not yet answered", async () => {
    const node: { keeper?: LeaseKeeper } = {};
    let acquiring: Promise<boolean> | undefined;
    let answer!: () => void;
    const gate = new Promise<void>((resolve) => (answer = resolve));
    const { store, holder } = sharedLeases(
      2,
      async (ids) => {
        // The renewal's claim of free leases: the new subscription's acquire() starts now.
        if (acquiring === undefined && ids.length > 1 && ids.includes("sub_2")) acquiring = node.keeper!.acquire("sub_2");
      },
      // Its lease is taken at once; its answer comes only after the renewal is done.
      (ids) => (ids.length === 1 && ids[0] === "sub_2" ? gate : Promise.resolve()),
    );
    const changed: string[] = [];
    const keeper = (node.keeper = nodeA(store, () => 0, changed));
    await keeper.claimInitial(["sub_1"]);
    await keeper.renew(async () => ["sub_1", "sub_2", "sub_3", "sub_4"]);
    expect(acquiring).toBeDefined();
    answer();
    expect(await acquiring).toBe(true);
    expect(keeper.holds("sub_2")).toBe(true);
    expect(holder.get("sub_2")).toBe("node_a");
  });
});
