import type { Logger } from "pino";
import type { AttemptRecord } from "../store/store.js";
import type { DeliveryStore } from "./delivery-store.js";

/** Group commit for attempt records: every outcome of one tick in one transaction. */
export class AttemptRecorder {
  private readonly store: DeliveryStore;
  private readonly log: Logger;
  private batch: AttemptRecord[] = [];
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;

  constructor(store: DeliveryStore, log: Logger) {
    this.store = store;
    this.log = log;
  }

  /** After close, late outcomes are dropped: their deliveries stay pending and are sent again after a restart. */
  close(): void {
    this.closed = true;
  }

  /** Queues a record; it is written with the others of this tick. */
  record(record: AttemptRecord): void {
    if (this.closed) return;
    this.batch.push(record);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.write());
  }

  /** Resolves once every record queued so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.writing || this.batch.length > 0) {
      if (this.writing) await this.writing;
      else await this.write();
    }
  }

  private async write(): Promise<void> {
    this.scheduled = false;
    if (this.writing) {
      await this.writing;
      if (this.batch.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.write());
      }
      return;
    }
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    this.writing = this.store.deliveries.recordAttempts(batch).catch((error: unknown) => {
      // The deliveries stay pending in the store and are sent again after a restart: at least once.
      this.log.error({ err: error, records: batch.length }, "recording delivery attempts failed");
    });
    await this.writing;
    this.writing = undefined;
  }
}
