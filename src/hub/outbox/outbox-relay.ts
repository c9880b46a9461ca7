import type { Logger } from "pino";
import { HubError } from "../../errors.js";
import type { Ingestor } from "../../ingest/ingestor.js";
import type { OutboxEntry, Store } from "../../store/store.js";
import { contextFromTraceparent } from "../../telemetry.js";

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  store: Pick<Store, "outbox">;
  ingestor: Pick<Ingestor, "publish">;
  log: Logger;
  /** Also looks every this many ms (SQLite: other processes cannot wake it); undefined: only when woken (PostgreSQL). */
  sweepMs?: number;
  /** Rows read per pass; default 500. */
  batchSize?: number;
  /** After a failed pass (the store unavailable), the next is tried this many ms later; default 1000. */
  retryMs?: number;
}

/**
 * Moves committed outbox rows into the event log, through the ingestor (the same topic rules, group commit, streams
 * and deliveries as any publish). Each row's append deletes it in the same transaction, so a row is stored once even
 * when several relays (nodes) race for it, and a crash before the append leaves it for the next pass, or the next
 * start. Rows are read in id order and queued in that order, so they enter the log in it.
 */
export class OutboxRelay {
  private readonly options: OutboxRelayOptions;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private sweep: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(options: OutboxRelayOptions) {
    this.options = options;
  }

  /** A first pass (rows committed while no hub was running), then the sweep if there is one. */
  start(): void {
    this.wake();
    if (this.options.sweepMs !== undefined && !this.stopped) {
      this.sweep = setInterval(() => this.wake(), this.options.sweepMs);
      this.sweep.unref();
    }
  }

  /** Runs a pass now, or right after the one running (rows may have been committed since it read). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves once no pass is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops waking, and waits for the pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweep);
    clearTimeout(this.retry);
    await this.idle();
  }

  private async pass(): Promise<void> {
    const { store, log, batchSize = 500, retryMs = 1_000 } = this.options;
    try {
      for (;;) {
        const rows = await store.outbox.pending(batchSize);
        if (rows.length > 0) await this.relay(rows);
        if (rows.length < batchSize || this.stopped) return;
      }
    } catch (error) {
      log.error({ err: error }, "relaying the outbox failed; trying again");
      if (!this.stopped) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.wake(), retryMs);
        this.retry.unref();
      }
    }
  }

  /** Publishes the rows in one tick (one group commit, in order); drops those whose event can never be stored. */
  private async relay(rows: OutboxEntry[]): Promise<void> {
    const { ingestor, store, log } = this.options;
    const outcomes = await Promise.allSettled(
      rows.map((row) =>
        ingestor.publish([row.event], { outboxId: row.id, transport: "outbox", traceContext: contextFromTraceparent(row.event.attributes.traceparent) }),
      ),
    );
    let failure: unknown;
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === "fulfilled") continue;
      const error: unknown = outcome.reason;
      if (error instanceof HubError && error.code === "SB_OUTBOX_RELAYED") continue;
      if (error instanceof HubError && error.status < 500) {
        // The topic refuses it (its schema, or it does not exist and auto-create is off): retrying cannot help.
        const { event } = rows[i]!;
        log.error({ err: error, eventId: event.id, topic: event.topic }, "an outbox event was refused by its topic and dropped");
        await store.outbox.discard(rows[i]!.id);
        continue;
      }
      failure ??= error;
    }
    if (failure !== undefined) throw failure;
  }
}
