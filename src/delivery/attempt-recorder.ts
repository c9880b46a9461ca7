import type { Logger } from "pino";
import type { AttemptRecord } from "../store/store.js";
import type { DeliveryStore } from "./delivery-store.js";

/** Wait before writing records again after the store failed. */
const RETRY_MS = 1_000;
/** Records kept while the store fails; past this the oldest are dropped (their deliveries are sent again). */
const MAX_KEPT = 100_000;
/**
 * How long the first record of a batch waits for others (ms). Replies come back spread over event-loop turns (64 in
 * flight: 16-54 records a turn, by destination kind), and each transaction writes its pages again: a window of 3 ms
 * made the batches 1.4-3.6 times larger (a Redis stream's 42 to 150), and the hub's CPU per Redis delivery 59-61 µs
 * against 70-93 (see bench/README.md).
 */
const WINDOW_MS = 3;
/** A batch this large is written at the next turn, without waiting out the window. */
const FULL_BATCH = 512;

/**
 * Group commit for attempt records: the outcomes of a few milliseconds ({@link WINDOW_MS}) in one transaction. When
 * the store fails (the database is away), the records are kept and written once it answers again: an attempt that
 * reached its receiver is then not sent a second time after the outage. {@link flush} writes at once.
 */
export class AttemptRecorder {
  private readonly store: DeliveryStore;
  private readonly log: Logger;
  private batch: AttemptRecord[] = [];
  private writing: Promise<void> | undefined;
  /** The write to come: at the end of the window, or at the next turn (`immediate`) once the batch is full. */
  private scheduled: { timer: NodeJS.Timeout; immediate: false } | { timer: NodeJS.Immediate; immediate: true } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(store: DeliveryStore, log: Logger) {
    this.store = store;
    this.log = log;
  }

  /** After close, late outcomes are dropped: their deliveries stay pending and are sent again after a restart. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Records queued and not yet written (kept while the store fails). */
  get queued(): number {
    return this.batch.length;
  }

  /** Queues a record; it is written with the others of its window (or with the next retry, while the store fails). */
  record(record: AttemptRecord): void {
    if (this.closed) return;
    this.batch.push(record);
    if (this.retryTimer) return;
    if (this.batch.length >= FULL_BATCH) {
      if (this.scheduled?.immediate) return;
      this.unschedule();
      this.scheduled = { timer: setImmediate(() => void this.write()), immediate: true };
    } else if (this.scheduled === undefined) {
      this.scheduled = { timer: setTimeout(() => void this.write(), WINDOW_MS), immediate: false };
    }
  }

  private unschedule(): void {
    if (this.scheduled?.immediate) clearImmediate(this.scheduled.timer);
    else if (this.scheduled) clearTimeout(this.scheduled.timer);
    this.scheduled = undefined;
  }

  /**
   * Resolves once every record queued so far has been written, or its write failed (then the records are kept for the
   * next retry): one try, so that stopping does not wait for a database that is away.
   */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.batch.length > 0) await this.write();
  }

  private async write(): Promise<void> {
    this.unschedule();
    if (this.writing) {
      await this.writing;
      // What came meanwhile has waited for that write: it goes at the next turn.
      if (this.batch.length > 0 && !this.scheduled && !this.retryTimer) {
        this.scheduled = { timer: setImmediate(() => void this.write()), immediate: true };
      }
      return;
    }
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    this.writing = this.store.deliveries.recordAttempts(batch).catch((error: unknown) => {
      this.log.error({ err: error, records: batch.length }, "recording delivery attempts failed; retrying");
      if (this.closed) return; // the deliveries stay pending in the store and are sent again: at least once
      // Ahead of those recorded meanwhile, so each delivery's last record stays last.
      this.batch = batch.concat(this.batch);
      if (this.batch.length > MAX_KEPT) this.batch.splice(0, this.batch.length - MAX_KEPT);
      this.retryLater();
    });
    await this.writing;
    this.writing = undefined;
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.write();
    }, RETRY_MS);
    this.retryTimer.unref();
  }
}
