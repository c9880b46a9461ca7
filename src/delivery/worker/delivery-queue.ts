import type { Delivery, StoredEvent } from "../../store/store.js";

/** A delivery in memory, with the event when the worker already has it. */
export interface Job extends Delivery {
  event?: StoredEvent | undefined;
  /** This node claimed the retry and has not sent it yet. */
  claimed?: boolean;
}

/** What a queue holds, by delivery id: for tests and diagnostics. */
export interface QueueSnapshot {
  ready: string[];
  waiting: string[];
  parked: Record<string, string[]>;
  open: string[];
}

/**
 * One subscription's open deliveries, with no I/O and no clock of its own:
 * - **ready**: may be sent now, in log order;
 * - **waiting**: due later (a retry, a first attempt delayed by the schedule), ordered by `nextAttemptAt`;
 * - **parked**: ordering by key, behind an earlier delivery of the same key that is ready, in flight or waiting.
 * Each delivery is admitted once while open (ready, waiting, parked, being claimed or in flight).
 */
export class DeliveryQueue {
  private readonly byKey: boolean;
  private readonly ready: Job[] = [];
  private readonly waiting: Job[] = [];
  /** Keys with a delivery ready, in flight or waiting; later ones of the key are parked. */
  private readonly activeKeys = new Set<string>();
  private readonly parked = new Map<string, Job[]>();
  private parkedCount = 0;
  private readonly openIds = new Set<string>();

  /** `byKey`: the subscription orders by key (one delivery of a key at a time). */
  constructor(byKey: boolean) {
    this.byKey = byKey;
  }

  /** Deliveries ready, waiting or parked (not those taken out to claim or send). */
  get queued(): number {
    return this.ready.length + this.waiting.length + this.parkedCount;
  }

  /** Whether a delivery is ready to send. */
  get hasReady(): boolean {
    return this.ready.length > 0;
  }

  /** When the first waiting delivery is due; Infinity when none waits. */
  get nextDueAt(): number {
    return this.waiting.length > 0 ? this.waiting[0]!.nextAttemptAt : Infinity;
  }

  /** Puts a delivery where it belongs: ready, waiting for its time, or parked behind its key. Once while open. */
  admit(job: Job, now: number): void {
    // A delivery already open here (loaded, then handed over again by a retry or replay) is not sent twice.
    if (this.openIds.has(job.id)) return;
    this.openIds.add(job.id);
    const key = this.keyOf(job);
    if (key !== null) {
      if (this.activeKeys.has(key)) {
        const queue = this.parked.get(key);
        if (queue) queue.push(job);
        else this.parked.set(key, [job]);
        this.parkedCount++;
        return;
      }
      this.activeKeys.add(key);
    }
    this.schedule(job, now);
  }

  /** Puts an open delivery (its key already active) back in line until `job.nextAttemptAt`. */
  wait(job: Job): void {
    job.event = undefined; // may wait for hours: read it again when due
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.waiting[mid]!.nextAttemptAt <= job.nextAttemptAt) lo = mid + 1;
      else hi = mid;
    }
    this.waiting.splice(lo, 0, job);
  }

  /**
   * Takes out what is due at `now`: first attempts go to ready; retries are returned, to be claimed before they are
   * sent (then {@link readyFirst} or {@link close}).
   */
  takeDue(now: number): Job[] | undefined {
    let retries: Job[] | undefined;
    while (this.waiting.length > 0 && this.waiting[0]!.nextAttemptAt <= now) {
      const job = this.waiting.shift()!;
      if (job.status === "retrying") (retries ??= []).push(job);
      else this.ready.push(job);
    }
    return retries;
  }

  /** Claimed retries: they were due before the deliveries that became ready meanwhile, so they go first. */
  readyFirst(jobs: Job[]): void {
    this.ready.unshift(...jobs);
  }

  /** Ready retries this node claimed (see {@link Job.claimed}). */
  claimedReady(): Job[] {
    return this.ready.filter((job) => job.claimed === true);
  }

  /** Takes the next ready delivery out to send. */
  takeReady(): Job | undefined {
    return this.ready.shift();
  }

  /** The delivery is no longer open here (delivered, dead, or another node's to send): the next of its key may go. */
  close(job: Job, now: number): void {
    this.openIds.delete(job.id);
    const key = this.keyOf(job);
    if (key === null) return;
    const queue = this.parked.get(key);
    const next = queue?.shift();
    if (!next) {
      this.activeKeys.delete(key);
      return;
    }
    this.parkedCount--;
    if (queue!.length === 0) this.parked.delete(key);
    this.schedule(next, now);
  }

  /** The queue by delivery id. */
  snapshot(): QueueSnapshot {
    const ids = (jobs: Job[]) => jobs.map((job) => job.id);
    return {
      ready: ids(this.ready),
      waiting: ids(this.waiting),
      parked: Object.fromEntries([...this.parked].map(([key, jobs]) => [key, ids(jobs)])),
      open: [...this.openIds],
    };
  }

  private schedule(job: Job, now: number): void {
    if (job.nextAttemptAt <= now) this.ready.push(job);
    else this.wait(job);
  }

  private keyOf(job: Job): string | null {
    return this.byKey ? job.orderingKey : null;
  }
}
