import type { Logger } from "pino";
import type { Delivery, Subscription } from "../store/store.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import type { AttemptSender } from "./attempt-sender.js";
import type { DeliveryStore } from "./delivery-store.js";
import type { InFlightSlots } from "./in-flight-slots.js";
import { attemptRecord, deliveryVerdict } from "./outcome-rules.js";
import { CLAIM_MARGIN_MS, LEASE_STALE_AFTER_MS, RETRY_SWEEP_MS, RETRY_TAKEOVER_AFTER_MS } from "./timing.js";

/** Overdue retries taken per sweep at most (and never more than the free share of the global cap). */
const SWEEP_BATCH = 100;

/** Options of {@link RetrySweeper}. */
export interface RetrySweeperOptions {
  store: DeliveryStore;
  log: Logger;
  now: () => number;
  /** This node's id in retry claims. */
  nodeId: string;
  /** How long a lease lasts unless renewed (ms): a holder's lease is stale {@link LEASE_STALE_AFTER_MS} early. */
  leaseTtlMs: number;
  slots: InFlightSlots;
  sender: AttemptSender;
  recorder: AttemptRecorder;
}

/** Which overdue retries a sweep at `now` may take over. */
export interface SweepWindow {
  /** Retries due before this have been left to their holder long enough. */
  dueBefore: number;
  /** Leases expiring before this were not renewed for {@link LEASE_STALE_AFTER_MS}: their holder is gone. */
  leaseStaleBefore: number;
}

/** The retries a sweep at `now` may take over (see {@link RetrySweeper}). */
export function sweepWindow(now: number, leaseTtlMs: number): SweepWindow {
  // A lease renewed at t expires at t + TTL: one renewed within LEASE_STALE_AFTER_MS expires after this.
  return { dueBefore: now - RETRY_TAKEOVER_AFTER_MS, leaseStaleBefore: now + leaseTtlMs - LEASE_STALE_AFTER_MS };
}

/**
 * Takes over retries that are overdue because their subscription's node is gone: it stopped renewing its lease,
 * which has not expired yet (or the subscription has no holder). Claims with `FOR UPDATE SKIP LOCKED` as many as
 * this node has free slots for, sends each once and records the outcome as the subscription's own worker would.
 * A live holder keeps its retries, so that a subscription's `max_in_flight` holds; subscriptions ordered by key are
 * left to their next holder, which alone knows what each key is waiting for.
 */
export class RetrySweeper {
  private readonly options: RetrySweeperOptions;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** Attempts of overdue retries taken over by this node, in flight. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: RetrySweeperOptions) {
    this.options = options;
  }

  /** Sweeps every {@link RETRY_SWEEP_MS}, one sweep at a time. */
  start(): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    }, RETRY_SWEEP_MS);
    this.timer.unref();
  }

  /** Stops sweeping; resolves when the sweep under way has claimed (its attempts: {@link attemptsInFlight}). */
  async halt(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** The attempts of taken-over retries still in flight. */
  attemptsInFlight(): Promise<void>[] {
    return [...this.inFlight];
  }

  /** One sweep: claims the overdue retries this node has free slots for and starts sending them. */
  async sweep(): Promise<void> {
    const { store, log, slots, nodeId, now: clock } = this.options;
    const free = Math.min(SWEEP_BATCH, slots.free);
    if (free <= 0 || this.stopped) return;
    try {
      const now = clock();
      const { dueBefore, leaseStaleBefore } = sweepWindow(now, this.options.leaseTtlMs);
      const claimed = await store.deliveries.claimDueRetries({ nodeId, dueBefore, now, marginMs: CLAIM_MARGIN_MS, limit: free, leaseStaleBefore });
      const subscriptions = new Map<string, Promise<Subscription | undefined>>();
      for (const delivery of claimed) {
        let sub = subscriptions.get(delivery.subscriptionId);
        if (!sub) subscriptions.set(delivery.subscriptionId, (sub = store.subscriptions.get(delivery.subscriptionId)));
        slots.takeNow();
        const attempt = this.send(delivery, sub).finally(() => {
          this.inFlight.delete(attempt);
          slots.release();
        });
        this.inFlight.add(attempt);
      }
    } catch (error) {
      log.error({ err: error, nodeId }, "taking over overdue retries failed");
    }
  }

  private async send(delivery: Delivery, subscription: Promise<Subscription | undefined>): Promise<void> {
    const { store, sender, recorder, log, now } = this.options;
    try {
      const sub = await subscription;
      // Deleted or paused since the claim, or a handler not registered here: the claim expires and the delivery waits
      // for a node that delivers its subscription.
      if (!sub?.active || !sender.serves(sub)) return;
      const event = await store.events.get(delivery.eventId);
      const attemptedAt = now();
      const attempts = delivery.attempts + 1;
      const outcome = await sender.attempt(sub, delivery.id, event, attemptedAt, attempts);
      const verdict = deliveryVerdict(sub.retrySchedule, attempts, outcome, event !== undefined, now());
      recorder.record(attemptRecord(delivery, attemptedAt, outcome, verdict, attempts));
      if (verdict.status === "dead") {
        sender.dead(sub, { ...delivery, attempts, lastStatus: outcome.status, lastError: outcome.error }, event?.topic);
      }
      if (outcome.ok && sub.failingSince !== null) await sender.setFailingSince(sub.id, null, now());
      else if (outcome.gone) await sender.disable(sub, "the endpoint answered 410 Gone", now());
    } catch (error) {
      log.error({ err: error, deliveryId: delivery.id }, "sending a retry taken over from another node failed");
    }
  }
}
