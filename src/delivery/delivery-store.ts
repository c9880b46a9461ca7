import type { Store } from "../store/store.js";

/** The parts of the store that delivery uses. */
export type DeliveryStore = Pick<Store, "mode" | "events" | "subscriptions" | "deliveries" | "leases" | "cluster">;

/** Writes a subscription's cursor alone (no deliveries with it). */
export function advanceCursor(store: DeliveryStore, subscriptionId: string, cursorSeq: number, now: number): Promise<void> {
  return store.deliveries.advanceCursor({ subscriptionId, cursorSeq, now });
}

/** Whether several nodes share the store (it announces their commits): then retries are swept across nodes. */
export function isSharedStore(store: DeliveryStore): boolean {
  return store.mode === "cluster";
}
