import type { Store } from "../store/store.js";

/**
 * The part of the store that delivery uses, and the only place delivery names store methods: when the store's
 * shape changes, this adapter changes and the delivery modules do not.
 */
export type DeliveryStore = Pick<
  Store,
  | "getEvent"
  | "readEventsAfter"
  | "getSubscription"
  | "listSubscriptions"
  | "updateSubscription"
  | "announceSubscriptionChange"
  | "watchCommits"
  | "addDeliveries"
  | "recordAttempts"
  | "openDeliveries"
  | "claimRetries"
  | "claimDueRetries"
  | "acquireLeases"
  | "releaseLeases"
  | "heartbeat"
  | "removeNode"
>;

/** Writes a subscription's cursor alone (no deliveries with it). */
export function advanceCursor(store: DeliveryStore, subscriptionId: string, cursorSeq: number, now: number): Promise<void> {
  return store.addDeliveries(subscriptionId, [], cursorSeq, now);
}

/** Whether the store is shared by several nodes (it announces their commits): then retries are swept across nodes. */
export function isSharedStore(store: DeliveryStore): boolean {
  return store.watchCommits !== undefined;
}
