import { describe, expect, it } from "vitest";
import type { AddDeliveriesRequest } from "../store/store.js";
import { DeliveryAdmitter } from "./delivery-admitter.js";
import type { DeliveryStore } from "./delivery-store.js";

/** A store whose `add` and `addAll` log their calls; `failing` names subscriptions whose requests fail. */
function fakeStore(failing: Set<string> = new Set()) {
  const calls: string[][] = [];
  const check = (r: AddDeliveriesRequest) => {
    if (failing.has(r.subscriptionId)) throw new Error(`${r.subscriptionId} refused`);
  };
  const deliveries = {
    add: async (r: AddDeliveriesRequest) => {
      calls.push([r.subscriptionId]);
      check(r);
    },
    addAll: async (rs: AddDeliveriesRequest[]) => {
      calls.push(rs.map((r) => r.subscriptionId));
      rs.forEach(check);
    },
  };
  return { store: { deliveries } as unknown as DeliveryStore, calls };
}

const page = (subscriptionId: string): AddDeliveriesRequest => ({ subscriptionId, deliveries: [], cursorSeq: 1, now: 0 });

describe("DeliveryAdmitter", () => {
  it("writes what is admitted in one burst in one call, and a lone page alone", async () => {
    const { store, calls } = fakeStore();
    const admitter = new DeliveryAdmitter(store);
    await Promise.all(["sub_a", "sub_b", "sub_c"].map((id) => admitter.admit(page(id))));
    // Admitted from the microtasks of that burst (as workers that awaited one page of the log): the same batch.
    const resolved = Promise.resolve();
    await Promise.all(["sub_d", "sub_e"].map((id) => resolved.then(() => admitter.admit(page(id)))));
    await admitter.admit(page("sub_f"));
    expect(calls).toEqual([["sub_a", "sub_b", "sub_c"], ["sub_d", "sub_e"], ["sub_f"]]);
  });

  it("tries each page alone when the batch fails, so that only the page at fault fails", async () => {
    const { store, calls } = fakeStore(new Set(["sub_b"]));
    const admitter = new DeliveryAdmitter(store);
    const outcomes = await Promise.allSettled(["sub_a", "sub_b", "sub_c"].map((id) => admitter.admit(page(id))));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toEqual(new Error("sub_b refused"));
    expect(calls).toEqual([["sub_a", "sub_b", "sub_c"], ["sub_a"], ["sub_b"], ["sub_c"]]);
  });
});
