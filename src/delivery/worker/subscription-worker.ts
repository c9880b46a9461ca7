import { newPrefixedId } from "../../ids.js";
import { compileFilter, type EventFilter } from "../../routing/filter.js";
import { compileTopicPattern, type TopicMatcher } from "../../routing/topic-pattern.js";
import type { Delivery, StoredEvent, Subscription } from "../../store/store.js";
import { advanceCursor } from "../delivery-store.js";
import type { DeliveryOutcome } from "../destination.js";
import { LOG_PAGE } from "../log-pages.js";
import { attemptRecord, deliveryVerdict, disableReason } from "../outcome-rules.js";
import { CLAIM_MARGIN_MS, CLAIM_RETRY_MS } from "../timing.js";
import { DeliveryQueue, type Job } from "./delivery-queue.js";
import { TokenBucket } from "./token-bucket.js";
import type { CommitSummary, WorkerContext } from "./worker-context.js";

/** A cursor that only passed events selecting nothing is written to the store at least this often (in events). */
const CURSOR_WRITE_EVERY = 10_000;
/** Consecutive failed attempts after which a subscription stops taking new events from the log (the log buffers them). */
const BREAKER_FAILURES = 5;
/** Open deliveries kept per subscription beyond its max_in_flight before the log is read further. */
const READ_AHEAD = 512;
/** Open deliveries loaded per page on start. */
const LOAD_PAGE = 1000;

/**
 * Where a worker is in its life:
 * - `loading`: reading the open deliveries an earlier run left; nothing is sent or read from the log meanwhile (its
 *   new rows would be loaded again);
 * - `running`: sending, and reading the log;
 * - `stopped`: stopped, or its subscription disabled; attempts in flight finish and are recorded.
 */
export type WorkerMode = "loading" | "running" | "stopped";

/**
 * Where a worker is in the log:
 * - `behind`: there may be events after its cursor;
 * - `reading`: a page is being read;
 * - `reading-moved`: a page is being read (or its deliveries written) and a commit arrived meanwhile: the page may
 *   predate it;
 * - `caught-up`: the last read found the end of the log; the next commit moves it to `behind`.
 */
export type LogMode = "behind" | "reading" | "reading-moved" | "caught-up";

/**
 * One subscription's sending loop: reads the log after its cursor into pending deliveries, sends them through the
 * sender within the subscription's max_in_flight, rate limit and the global slots, claims due retries before
 * sending them, records every attempt and keeps the subscription's health.
 */
export class SubscriptionWorker {
  private sub: Subscription;
  private readonly ctx: WorkerContext;
  private readonly topic: TopicMatcher;
  private readonly filter: EventFilter | undefined;
  private readonly queue: DeliveryQueue;
  private readonly bucket: TokenBucket;
  private mode: WorkerMode = "loading";
  private logMode: LogMode = "behind";
  private cursor: number;
  /** The cursor as last written to the store; the in-memory one runs ahead over events selecting nothing. */
  private persistedCursor: number;
  private inFlight = 0;
  /** Due retries being claimed (see {@link claim}). */
  private claiming = 0;
  /** The page of the log being read and admitted (one at a time: the log mode is `reading` meanwhile). */
  private filling: Promise<void> | undefined;
  /** Claims under way: a stopping worker waits for them, then lets go of what it claimed and will not send. */
  private readonly claims = new Set<Promise<void>>();
  private consecutiveFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(sub: Subscription, ctx: WorkerContext) {
    this.sub = sub;
    this.ctx = ctx;
    this.topic = compileTopicPattern(sub.topic);
    this.filter = sub.filter ? compileFilter(sub.filter, { onError: ctx.onFilterError }) : undefined;
    this.queue = new DeliveryQueue(sub.ordering === "key");
    this.bucket = new TokenBucket(sub.rateLimit, ctx.now());
    this.cursor = sub.cursorSeq;
    this.persistedCursor = sub.cursorSeq;
  }

  /** Loads the subscription's open deliveries (pending and retrying) left by an earlier run. */
  async load(): Promise<void> {
    let after = { seq: 0, id: "" };
    for (;;) {
      // Keyset on (event_seq, id): replays put several deliveries on one event, and a page may end among them.
      const page = await this.ctx.store.deliveries.listOpen({ subscriptionId: this.sub.id, afterSeq: after.seq, limit: LOAD_PAGE, afterId: after.id });
      this.add(page);
      if (page.length < LOAD_PAGE) {
        if (this.mode === "loading") this.mode = "running";
        return;
      }
      const last = page[page.length - 1]!;
      after = { seq: last.eventSeq, id: last.id };
    }
  }

  /** Adds deliveries (loaded, retried by hand, replayed) in log order. */
  add(deliveries: Delivery[]): void {
    const now = this.ctx.now();
    for (const d of deliveries) this.queue.admit(d as Job, now);
    this.wake();
  }

  /** Stops sending; writes the in-memory cursor; resolves when the attempts in flight have finished. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.mode = "stopped";
      if (this.timer) clearTimeout(this.timer);
      // A page being admitted commits its pending deliveries with the cursor: the cursor written below, and the next
      // holder of the subscription (which reads the cursor as it starts, once the lease is released after this),
      // must come after it, else that page could be admitted a second time.
      await this.filling;
      // Retries claimed but not sent (waiting for a slot or a token) would be nobody's until their claims expired.
      await Promise.all(this.claims);
      await this.releaseClaims(this.queue.claimedReady());
      if (this.cursor > this.persistedCursor) {
        const cursor = this.cursor;
        await advanceCursor(this.ctx.store, this.sub.id, cursor, this.ctx.now()).then(
          () => (this.persistedCursor = cursor),
          (error: unknown) => this.ctx.log.error({ err: error, subscriptionId: this.sub.id }, "writing a subscription cursor failed"),
        );
      }
      if (this.inFlight === 0) return;
      await new Promise<void>((resolve) => (this.idle = resolve));
    })();
    return this.stopping;
  }

  /** The subscription's priority for a slot of the global cap (see {@link InFlightSlots}). */
  get priority(): number {
    return this.sub.priority;
  }

  /** Looks for work: due retries, ready deliveries, the log. */
  wake(): void {
    if (this.mode === "stopped") return;
    this.pump();
  }

  /**
   * New events were committed. A worker that had read the log up to `commit` and can select none of its topics moves
   * its cursor past it in memory, as reading it would (unless the cursor is due to be written).
   */
  logMoved(commit?: CommitSummary): void {
    if (
      commit !== undefined &&
      this.mode === "running" &&
      this.logMode === "caught-up" &&
      this.cursor === commit.after &&
      commit.last - this.persistedCursor < CURSOR_WRITE_EVERY &&
      !this.mayMatch(commit.topics)
    ) {
      this.cursor = commit.last;
      return;
    }
    this.logMode = this.logMode === "reading" || this.logMode === "reading-moved" ? "reading-moved" : "behind";
    this.wake();
  }

  private mayMatch(topics: Set<string>): boolean {
    for (const topic of topics) if (this.topic.matches(topic)) return true;
    return false;
  }

  /** Whether a commit arrived while the current page was read (a method: the mode changes across the await). */
  private committedDuringRead(): boolean {
    return this.logMode === "reading-moved";
  }

  private get open(): number {
    return this.queue.queued + this.inFlight + this.claiming;
  }

  private pump(): void {
    if (this.mode !== "running") return;
    const now = this.ctx.now();
    // Due retries are claimed before they are sent: another node may have taken them over while this one was cut off
    // from the database.
    const retries = this.queue.takeDue(now);
    if (retries) this.claim(retries);
    while (this.queue.hasReady && this.inFlight < this.sub.maxInFlight) {
      if (!this.bucket.take(now)) break;
      if (!this.ctx.slots.take(this)) {
        this.bucket.giveBack();
        break;
      }
      void this.send(this.queue.takeReady()!);
    }
    // While the endpoint keeps failing, new events stay in the log; the open deliveries' retries probe it. With
    // none left open (all died), one more page is read so that the subscription never stalls.
    const breakerOpen = this.consecutiveFailures >= BREAKER_FAILURES && this.open > 0;
    if (this.logMode === "behind" && !breakerOpen && this.open < this.sub.maxInFlight + READ_AHEAD) {
      const filling = (this.filling = this.fill().finally(() => {
        if (this.filling === filling) this.filling = undefined;
      }));
    }
    this.scheduleTimer(now);
  }

  /** Claims due retries before they are sent (see {@link claimJobs}). */
  private claim(jobs: Job[]): void {
    const claiming = this.claimJobs(jobs).finally(() => this.claims.delete(claiming));
    this.claims.add(claiming);
  }

  /**
   * Claims due retries; those claimed go first in line. Those another node holds are read again (see
   * {@link recheck}); a worker stopped meanwhile lets go of its new claims at once.
   */
  private async claimJobs(jobs: Job[]): Promise<void> {
    const { store, recorder, log, nodeId, now } = this.ctx;
    this.claiming += jobs.length;
    let claimed: Set<string> | undefined;
    try {
      // The claim must see the failed attempt that made each of these a retry: its record may still be queued.
      await recorder.flush();
      const ids = jobs.map((job) => job.id);
      claimed = new Set(await store.deliveries.claimRetries({ nodeId, deliveryIds: ids, now: now(), marginMs: CLAIM_MARGIN_MS }));
    } catch (error) {
      log.error({ err: error, subscriptionId: this.sub.id }, "claiming retries failed");
    }
    const at = now();
    const mine: Job[] = [];
    const held: Job[] = [];
    for (const job of jobs) {
      job.claimed = claimed?.has(job.id) === true;
      if (claimed === undefined) {
        job.nextAttemptAt = at + CLAIM_RETRY_MS;
        this.queue.wait(job);
      } else if (job.claimed) mine.push(job);
      else held.push(job);
    }
    if (this.mode === "stopped") {
      await this.releaseClaims(mine);
    } else {
      this.queue.readyFirst(mine);
      if (held.length > 0) await this.recheck(held);
    }
    this.claiming -= jobs.length;
    this.wake();
  }

  /**
   * Retries another node holds a claim on: its retry sweep took them over while this node was cut off from the
   * database, or it died holding the claim. What that node did is in the row, read again here. A closed delivery
   * leaves this worker; an open one stays (this node holds the subscription, and no other node's sweep takes a
   * live holder's retries) and waits for its next attempt, or for the other claim to expire.
   */
  private async recheck(jobs: Job[]): Promise<void> {
    const { store, log, now } = this.ctx;
    for (const job of jobs) {
      let row: Delivery | undefined;
      try {
        row = await store.deliveries.get(job.id);
      } catch (error) {
        log.warn({ err: error, deliveryId: job.id, subscriptionId: this.sub.id }, "reading a retry another node claimed failed; retrying");
        job.nextAttemptAt = now() + CLAIM_RETRY_MS;
        this.queue.wait(job);
        continue;
      }
      const at = now();
      if (row === undefined || (row.status !== "retrying" && row.status !== "pending")) {
        this.queue.close(job, at);
        continue;
      }
      job.attempts = row.attempts;
      job.lastStatus = row.lastStatus;
      job.lastError = row.lastError;
      job.updatedAt = row.updatedAt;
      // Due and still held: the other claim lasts at most the subscription's timeout plus the margin from now.
      job.nextAttemptAt = row.nextAttemptAt > at ? row.nextAttemptAt : at + this.sub.timeoutMs + CLAIM_MARGIN_MS;
      this.queue.wait(job);
    }
  }

  /** Ends this node's claims on retries it will not send, so that another node may send them at once. */
  private async releaseClaims(jobs: Job[]): Promise<void> {
    if (jobs.length === 0) return;
    const { store, log, nodeId } = this.ctx;
    for (const job of jobs) job.claimed = false;
    try {
      await store.deliveries.releaseClaims({ nodeId, deliveryIds: jobs.map((job) => job.id) });
    } catch (error) {
      log.warn({ err: error, subscriptionId: this.sub.id }, "releasing retry claims failed; they expire instead");
    }
  }

  /** Reads the log after the cursor and turns the selected events into pending deliveries. */
  private async fill(): Promise<void> {
    this.logMode = "reading";
    let full = false;
    let failed = false;
    try {
      const events = await this.ctx.readLog(this.cursor);
      if (this.mode === "stopped") return;
      full = events.length === LOG_PAGE;
      if (events.length > 0) await this.admitPage(events);
    } catch (error) {
      this.ctx.log.error({ err: error, subscriptionId: this.sub.id }, "reading the log for a subscription failed");
      failed = true;
    } finally {
      // A commit that arrived during the read or while the deliveries were written may not be in this page.
      this.logMode = !failed && (full || this.committedDuringRead()) ? "behind" : "caught-up";
    }
    // Yield to I/O between pages: a backlog of many pages must not hold the event loop.
    if (this.mode !== "stopped") setImmediate(() => this.wake());
  }

  /** Writes a pending delivery per selected event of a page, with the new cursor, and queues them. */
  private async admitPage(events: StoredEvent[]): Promise<void> {
    const now = this.ctx.now();
    const firstDelay = Math.max(0, (this.sub.retrySchedule[0] ?? 0) * 1000);
    const jobs: Job[] = [];
    for (const event of events) {
      if (!this.topic.matches(event.topic) || (this.filter && !this.filter.matches(event))) continue;
      jobs.push({
        id: newPrefixedId("dlv", now),
        subscriptionId: this.sub.id,
        eventSeq: event.seq,
        eventId: event.id,
        orderingKey: event.key,
        nextAttemptAt: now + firstDelay,
        status: "pending",
        attempts: 0,
        lastStatus: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
        deliveredAt: null,
        event,
      });
    }
    const lastSeq = events[events.length - 1]!.seq;
    // Deliveries and cursor in one transaction: after a crash each event is either still ahead of the cursor or
    // has its pending delivery. A page that selects nothing moves the cursor in memory only (written every
    // CURSOR_WRITE_EVERY events and on stop): after a crash those events are read again and again select nothing.
    if (jobs.length > 0 || lastSeq - this.persistedCursor >= CURSOR_WRITE_EVERY) {
      await this.ctx.admit({ subscriptionId: this.sub.id, deliveries: jobs, cursorSeq: lastSeq, now });
      this.persistedCursor = lastSeq;
    }
    this.cursor = lastSeq;
    for (const job of jobs) this.queue.admit(job, now);
  }

  private async send(job: Job): Promise<void> {
    const { store, sender, slots, now } = this.ctx;
    this.inFlight++;
    let event = job.event;
    if (event === undefined) {
      try {
        event = await store.events.get(job.eventId);
      } catch (error) {
        // The store did not answer, which says nothing about the event: taking it for gone would kill the delivery.
        // No attempt is made or counted; the delivery waits a moment and is tried again.
        this.ctx.log.warn({ err: error, deliveryId: job.id, subscriptionId: this.sub.id }, "reading a delivery's event failed; retrying");
        this.inFlight--;
        slots.release();
        job.nextAttemptAt = now() + CLAIM_RETRY_MS;
        this.queue.wait(job);
        this.afterSend();
        return;
      }
    }
    const attemptedAt = now();
    job.claimed = false; // recording the attempt ends the claim
    const outcome = await sender.attempt(this.sub, job.id, event, attemptedAt, job.attempts + 1);
    job.event = undefined;
    this.inFlight--;
    slots.release();
    this.settle(job, outcome, attemptedAt, event);
    this.afterSend();
  }

  /** After a send settled: a stopping worker may now be idle; a running one sends what is next. */
  private afterSend(): void {
    if (this.mode === "stopped") {
      if (this.inFlight === 0) this.idle?.();
      return;
    }
    this.pump();
  }

  /** Records the attempt and decides what happens next. */
  private settle(job: Job, outcome: DeliveryOutcome, attemptedAt: number, event: StoredEvent | undefined): void {
    const now = this.ctx.now();
    job.attempts++;
    job.lastStatus = outcome.status;
    job.lastError = outcome.error;
    const verdict = deliveryVerdict(this.sub.retrySchedule, job.attempts, outcome, event !== undefined, now);
    job.status = verdict.status;
    if (verdict.status === "delivered") {
      this.queue.close(job, now);
      this.consecutiveFailures = 0;
      if (this.sub.failingSince !== null) this.markHealthy(now);
    } else {
      this.consecutiveFailures++;
      if (verdict.status === "dead") {
        this.queue.close(job, now);
        this.ctx.sender.dead(this.sub, job, event?.topic);
      } else {
        job.nextAttemptAt = verdict.nextAttemptAt!;
        this.queue.wait(job);
      }
      this.markFailing(now, outcome);
    }
    this.ctx.recorder.record(attemptRecord({ id: job.id, subscriptionId: this.sub.id }, attemptedAt, outcome, verdict, job.attempts));
  }

  private markHealthy(now: number): void {
    this.sub = { ...this.sub, failingSince: null };
    this.ctx.sender.setFailingSinceLogged(this.sub.id, null, now);
  }

  private markFailing(now: number, outcome: DeliveryOutcome): void {
    const reason = disableReason(outcome, this.sub, now, this.ctx.disableAfterMs);
    if (reason) {
      this.mode = "stopped";
      this.ctx.sender.disableLogged(this.sub, reason, now);
      return;
    }
    if (this.sub.failingSince === null) {
      this.sub = { ...this.sub, failingSince: now };
      this.ctx.sender.setFailingSinceLogged(this.sub.id, now, now);
    }
  }

  /** One timer: the next due retry, or the next rate-limit token while deliveries are ready. */
  private scheduleTimer(now: number): void {
    let at = this.queue.nextDueAt;
    if (this.queue.hasReady && this.inFlight < this.sub.maxInFlight) at = Math.min(at, this.bucket.nextTokenAt(now) ?? Infinity);
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity || this.mode === "stopped") return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.wake();
      },
      Math.min(Math.max(0, at - now), 2_147_000_000),
    );
    this.timer.unref();
  }
}
