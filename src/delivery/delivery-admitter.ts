import type { AddDeliveriesRequest } from "../store/store.js";
import type { DeliveryStore } from "./delivery-store.js";

interface Waiting {
  request: AddDeliveriesRequest;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the pending deliveries the workers admit. A commit wakes every worker whose subscriptions its
 * events concern, and each reads the same page of the log (see `LogPages`): their pages, with their cursors, go in one
 * transaction (`deliveries.addAll`) instead of one each. With 100 subscriptions on a topic, each of their transactions
 * wrote the same index pages to the WAL again. The batch is what was admitted until the microtasks ran out, so a
 * lone worker waits for nothing. When the batch fails, each request is tried alone, so that one at fault (a
 * subscription deleted meanwhile) does not hold back the others. The dispatcher uses it on SQLite only (see there).
 */
export class DeliveryAdmitter {
  private readonly store: DeliveryStore;
  private batch: Waiting[] = [];

  constructor(store: DeliveryStore) {
    this.store = store;
  }

  /** Stores a page's pending deliveries and its cursor; resolves once they are committed. */
  admit(request: AddDeliveriesRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.batch.push({ request, resolve, reject }) === 1) queueMicrotask(() => void this.write());
    });
  }

  private async write(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 1) {
      try {
        await this.store.deliveries.addAll(batch.map((w) => w.request));
        for (const w of batch) w.resolve();
        return;
      } catch {
        // One request may be at fault: each alone below.
      }
    }
    await Promise.all(batch.map((w) => this.store.deliveries.add(w.request).then(w.resolve, w.reject)));
  }
}
