import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { newPrefixedId } from "../ids.js";
import type { HubMetrics } from "../metrics.js";
import { compileFilter, type EventFilter } from "../routing/filter.js";
import { compileTopicPattern, type TopicMatcher } from "../routing/topic-pattern.js";
import type { AttemptRecord, Delivery, NewDelivery, Store, StoredEvent, Subscription } from "../store/store.js";
import { formatTime } from "../time.js";
import { envelopeJson } from "../wire.js";
import { nextDelayMs } from "./webhooks/retry-policy.js";
import type { AttemptResult, WebhookClient } from "./webhooks/send-webhook.js";
import { signatureFor } from "./webhooks/sign.js";

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  store: Store;
  client: WebhookClient;
  log: Logger;
  metrics?: HubMetrics;
  /** Requests in flight across all subscriptions (switch's concurrency level). */
  maxInFlight: number;
  /** A subscription whose attempts have failed for this long is disabled. */
  disableAfterMs: number;
  /** Publishes an operational event (`switchboard.delivery.dead`, `switchboard.subscription.disabled`). */
  publishSystemEvent: (topic: string, data: Record<string, unknown>) => Promise<void>;
  userAgent: string;
  now?: () => number;
  /** False on an `api` node: no subscription workers run here (another node delivers). Default true. */
  runWorkers?: boolean;
  /** This node's id in subscription leases. Default a new `node_<ULID>` per dispatcher. */
  nodeId?: string;
  /** How long a lease lasts unless renewed (ms). Default {@link LEASE_TTL_MS}. */
  leaseTtlMs?: number;
  /** How often leases are renewed and free ones claimed (ms). Default {@link LEASE_RENEW_MS}. */
  leaseRenewMs?: number;
  /**
   * Whether this node takes over overdue retries of any subscription (claimed with `FOR UPDATE SKIP LOCKED`), not
   * only of those it holds. Default: when the store is shared by several nodes (it can watch commits).
   */
  sweepRetries?: boolean;
}

/**
 * A subscription lease lasts this long unless renewed: a node that dies stops renewing, and another node takes its
 * subscriptions over within this plus {@link LEASE_RENEW_MS}.
 */
export const LEASE_TTL_MS = 10_000;
/** Leases are renewed (and free or expired ones claimed) this often. */
export const LEASE_RENEW_MS = 2_000;

/** How often a delivering node looks for overdue retries of any subscription (see {@link DispatcherOptions.sweepRetries}). */
export const RETRY_SWEEP_MS = 1_000;
/** A due retry is left to the node holding its subscription for this long before any free node takes it. */
export const RETRY_TAKEOVER_AFTER_MS = 2_000;
/**
 * A lease not renewed for this long (two renewals missed) marks its holder as gone for retries: any free node takes
 * them over, long before the lease itself expires.
 */
export const LEASE_STALE_AFTER_MS = 2 * LEASE_RENEW_MS;
/**
 * A retry claim lasts the subscription's timeout plus this: the attempt is recorded a few milliseconds after it ends
 * (group commit). A node that dies mid-attempt leaves its claims to expire after as long.
 */
const CLAIM_MARGIN_MS = 5_000;
/** After a claim failed for want of the database, the retries are tried again this much later. */
const CLAIM_RETRY_MS = 1_000;
/** Overdue retries taken per sweep at most (and never more than the free share of the global cap). */
const SWEEP_BATCH = 100;

/** A cursor that only passed events selecting nothing is written to the store at least this often (in events). */
const CURSOR_WRITE_EVERY = 10_000;
/** Events read from the log per fill. */
const FILL_PAGE = 256;
/** Pages of the log kept for workers at the same cursor until the next commit. */
const PAGES_KEPT = 4;
/** Consecutive failed attempts after which a subscription stops taking new events from the log (the log buffers them). */
const BREAKER_FAILURES = 5;
/** Open deliveries kept per subscription beyond its max_in_flight before the log is read further. */
const READ_AHEAD = 512;

/**
 * Turns the event log into webhook deliveries. Each active subscription has a worker that reads the log after its
 * cursor (ingest writes nothing per subscription), writes a pending delivery row per selected event together with
 * the new cursor (so a crash loses nothing), sends, and records every attempt. A commit wakes the workers; the only
 * timers are for retries that are due later and for rate limits.
 */
export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly workers = new Map<string, SubscriptionWorker>();
  private readonly recorder: AttemptRecorder;
  private globalInFlight = 0;
  private readonly refreshes = new Map<string, Promise<void>>();
  private readonly waitingForSlot = new Set<SubscriptionWorker>();
  /** Pages of the log read since the last commit, by cursor: workers at the same cursor share one read. */
  private readonly pages = new Map<number, Promise<StoredEvent[]>>();
  private stopped = false;
  readonly now: () => number;
  /** This node's id in subscription leases. */
  readonly nodeId: string;
  private readonly leaseTtlMs: number;
  private readonly leaseRenewMs: number;
  /** Subscriptions whose lease this node holds (it runs workers for those that are active, and only those). */
  private readonly held = new Set<string>();
  /** Subscriptions beyond this node's share: their workers stop, then their leases are released for another node. */
  private readonly handingOver = new Set<string>();
  /** When the last renewal of every lease started: held leases are valid until this plus the TTL. */
  private renewedAt = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Attempts of overdue retries taken over by this node, in flight. */
  private readonly sweptInFlight = new Set<Promise<void>>();

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.recorder = new AttemptRecorder(options.store, options.log);
    this.nodeId = options.nodeId ?? newPrefixedId("node");
    this.leaseTtlMs = options.leaseTtlMs ?? LEASE_TTL_MS;
    this.leaseRenewMs = options.leaseRenewMs ?? LEASE_RENEW_MS;
  }

  /**
   * Claims the leases of the active subscriptions that no other node holds and starts a worker for each claimed one;
   * then renews the leases (and claims ones freed or expired) every {@link LEASE_RENEW_MS}.
   */
  async start(): Promise<void> {
    if (this.options.runWorkers === false) return;
    const active = (await this.options.store.subscriptions.list()).filter((sub) => sub.active);
    const at = Date.now();
    const { renewed } = await this.claimShare(active.map((sub) => sub.id), at);
    this.renewedAt = at;
    for (const id of renewed) this.held.add(id);
    for (const sub of active) if (this.held.has(sub.id)) await this.startWorker(sub);
    this.renewTimer = setInterval(() => {
      this.renewing ??= this.renewLeases().finally(() => (this.renewing = undefined));
    }, this.leaseRenewMs);
    this.renewTimer.unref();
    if (this.options.sweepRetries ?? this.options.store.mode === "cluster") {
      this.sweepTimer = setInterval(() => {
        this.sweeping ??= this.sweepRetries().finally(() => (this.sweeping = undefined));
      }, RETRY_SWEEP_MS);
      this.sweepTimer.unref();
    }
  }

  /**
   * Takes over retries that are overdue because their subscription's node is gone: it stopped renewing its lease,
   * which has not expired yet (or the subscription has no holder). Claims with `FOR UPDATE SKIP LOCKED` as many as
   * this node has free slots for, sends each once and records the outcome as the subscription's own worker would.
   * A live holder keeps its retries, so that a subscription's `max_in_flight` holds; subscriptions ordered by key are
   * left to their next holder, which alone knows what each key is waiting for.
   */
  private async sweepRetries(): Promise<void> {
    const { store, log } = this.options;
    const free = Math.min(SWEEP_BATCH, this.options.maxInFlight - this.globalInFlight);
    if (free <= 0 || this.stopped) return;
    try {
      const now = this.now();
      // A lease renewed at t expires at t + TTL: one renewed within LEASE_STALE_AFTER_MS expires after this.
      const leaseStaleBefore = now + this.leaseTtlMs - LEASE_STALE_AFTER_MS;
      const claimed = await store.deliveries.claimDueRetries({ nodeId: this.nodeId, dueBefore: now - RETRY_TAKEOVER_AFTER_MS, now, marginMs: CLAIM_MARGIN_MS, limit: free, leaseStaleBefore });
      if (claimed.length === 0) return;
      const subscriptions = new Map<string, Promise<Subscription | undefined>>();
      for (const delivery of claimed) {
        let sub = subscriptions.get(delivery.subscriptionId);
        if (!sub) subscriptions.set(delivery.subscriptionId, (sub = store.subscriptions.get(delivery.subscriptionId)));
        this.globalInFlight++;
        const attempt = this.sendSwept(delivery, sub).finally(() => {
          this.sweptInFlight.delete(attempt);
          this.releaseSlot();
        });
        this.sweptInFlight.add(attempt);
      }
    } catch (error) {
      log.error({ err: error, nodeId: this.nodeId }, "taking over overdue retries failed");
    }
  }

  private async sendSwept(delivery: Delivery, subscription: Promise<Subscription | undefined>): Promise<void> {
    const { store, metrics, log } = this.options;
    try {
      const sub = await subscription;
      // Deleted or paused since the claim: the claim expires and the delivery waits for its subscription.
      if (!sub?.active) return;
      const event = await store.events.get(delivery.eventId);
      const attemptedAt = this.now();
      const result = await this.attempt(sub, delivery.id, event, attemptedAt);
      const attempts = delivery.attempts + 1;
      const { status, nextAttemptAt } = outcomeOf(sub, attempts, result, event !== undefined, this.now());
      this.recorder.record(attemptRecord(delivery.id, attemptedAt, result, status, attempts, nextAttemptAt));
      if (status === "dead") {
        metrics?.deliveriesDead.inc();
        this.announceDead(sub, { ...delivery, attempts, lastStatus: result.status, lastError: result.error }, event?.topic);
      }
      if (result.ok && sub.failingSince !== null) {
        await store.subscriptions.update(sub.id, { failingSince: null }, this.now());
      } else if (result.gone) {
        await this.disable(sub, "the endpoint answered 410 Gone", this.now());
      }
    } catch (error) {
      log.error({ err: error, deliveryId: delivery.id }, "sending a retry taken over from another node failed");
    }
  }

  /**
   * @internal one attempt of a delivery: signed and sent, or failed at once when its event is no longer stored;
   * counted in the metrics.
   */
  async attempt(sub: Subscription, deliveryId: string, event: StoredEvent | undefined, attemptedAt: number): Promise<AttemptResult> {
    const { client, metrics } = this.options;
    let result: AttemptResult;
    if (!event) {
      result = { ok: false, status: null, latencyMs: 0, responseExcerpt: null, error: "the event is no longer stored", gone: false };
    } else {
      const body = sub.body === "envelope" ? envelopeJson(event) : event.dataJson;
      const headers = webhookHeaders(sub, deliveryId, event, body, attemptedAt, this.options.userAgent);
      result = await client.send({ url: sub.url, body, headers, timeoutMs: sub.timeoutMs });
    }
    metrics?.deliveryAttempts.inc({ outcome: result.ok ? "delivered" : "failed" });
    metrics?.deliveryLatency.observe(result.latencyMs / 1000);
    return result;
  }

  /** @internal pauses a subscription the hub gave up on and tells every node. */
  async disable(sub: Subscription, reason: string, now: number): Promise<void> {
    const { store, log } = this.options;
    this.forget(sub.id);
    log.warn({ subscriptionId: sub.id, reason }, "subscription disabled");
    await store.subscriptions.update(sub.id, { active: false, disabledReason: reason }, now);
    await store.cluster?.announceSubscriptionChange(sub.id);
    await this.options.publishSystemEvent("switchboard.subscription.disabled", { subscription_id: sub.id, url: sub.url, reason });
  }

  /** @internal publishes `switchboard.delivery.dead`, except about system events (which would feed themselves). */
  announceDead(sub: Subscription, delivery: Delivery, eventTopic: string | undefined): void {
    // Judged by the event's topic too, since a pattern such as `*.delivery.*` selects system events.
    if (eventTopic?.startsWith("switchboard.") || sub.topic.startsWith("switchboard.")) return;
    void this.options
      .publishSystemEvent("switchboard.delivery.dead", {
        delivery_id: delivery.id,
        subscription_id: sub.id,
        event_id: delivery.eventId,
        url: sub.url,
        attempts: delivery.attempts,
        last_status: delivery.lastStatus,
        last_error: delivery.lastError,
      })
      .catch((error: unknown) => this.options.log.error({ err: error, deliveryId: delivery.id }, "announcing a dead delivery failed"));
  }

  /** Whether this node holds the lease of subscription `id` (so delivers it), for tests and diagnostics. */
  holds(id: string): boolean {
    return this.held.has(id) && this.workers.has(id);
  }

  /**
   * Renews the leases this node holds and claims free or expired ones up to its share: the active subscriptions
   * divided by the delivering nodes seen within a lease's lifetime (rounded up). Nodes claiming at once take free
   * leases in random order; one holding more than its share (it started first, or a node joined) hands the excess
   * over, so subscriptions spread over the delivering nodes within a few renewals.
   */
  private async claimShare(activeIds: string[], at: number): Promise<{ renewed: Set<string>; excess: string[] }> {
    const { store } = this.options;
    const nodes = await store.leases.heartbeat({ nodeId: this.nodeId, now: at, ttlMs: this.leaseTtlMs });
    const share = Math.ceil(activeIds.length / nodes);
    const renewed = new Set(await store.leases.acquire({ nodeId: this.nodeId, subscriptionIds: activeIds.filter((id) => this.held.has(id)), ttlMs: this.leaseTtlMs, now: at }));
    const room = share - renewed.size;
    if (room > 0) {
      const candidates = shuffled(activeIds.filter((id) => !this.held.has(id) && !this.handingOver.has(id)));
      const got = await store.leases.acquire({ nodeId: this.nodeId, subscriptionIds: candidates, ttlMs: this.leaseTtlMs, now: at });
      // leases.acquire takes every free lease in the list: what exceeds the share goes back at once.
      if (got.length > room) await store.leases.release({ nodeId: this.nodeId, subscriptionIds: got.slice(room) });
      for (const id of got.slice(0, room)) renewed.add(id);
    }
    const excess = renewed.size > share ? [...renewed].slice(share) : [];
    return { renewed, excess };
  }

  /**
   * Renews the held leases and claims free or expired ones (see {@link claimShare}): a newly held subscription gets
   * a worker (which loads the open deliveries its previous node left, as on a restart); one lost to another node (a
   * renewal came too late) has its worker stopped; one beyond this node's share is handed over once its worker has
   * stopped.
   */
  private async renewLeases(): Promise<void> {
    const { store, log } = this.options;
    try {
      const ids = (await store.subscriptions.list()).filter((sub) => sub.active).map((sub) => sub.id);
      if (this.stopped) return;
      const at = Date.now();
      const { renewed: acquired, excess } = await this.claimShare(ids, at);
      this.renewedAt = at;
      if (this.stopped) {
        // stop() released what it knew of; these were renewed meanwhile.
        await store.leases.release({ nodeId: this.nodeId, subscriptionIds: [...acquired] });
        return;
      }
      for (const id of excess) {
        acquired.delete(id);
        if (this.held.delete(id)) {
          this.handingOver.add(id);
          this.refreshLogged(id);
        }
      }
      for (const id of ids) {
        if (acquired.has(id) && !this.held.has(id)) {
          this.held.add(id);
          this.refreshLogged(id);
        } else if (!acquired.has(id) && this.held.has(id)) {
          log.warn({ subscriptionId: id, nodeId: this.nodeId }, "subscription lease lost to another node; stopping its worker");
          this.held.delete(id);
          this.refreshLogged(id);
        }
      }
    } catch (error) {
      log.error({ err: error, nodeId: this.nodeId }, "renewing subscription leases failed");
      // Past the TTL another node may take the subscriptions over: stop delivering them a renewal before that.
      if (Date.now() >= this.renewedAt + this.leaseTtlMs - this.leaseRenewMs) {
        for (const id of [...this.held]) {
          this.held.delete(id);
          this.refreshLogged(id);
        }
      }
    }
  }

  private refreshLogged(id: string): void {
    this.refresh(id).catch((error: unknown) => this.options.log.error({ err: error, subscriptionId: id }, "re-reading a subscription failed"));
  }

  /** Called after each commit: every worker looks at the log again. */
  notify(): void {
    this.pages.clear();
    for (const worker of this.workers.values()) worker.logMoved();
  }

  /** Re-reads one subscription after it was created, changed, paused, resumed or deleted. */
  refresh(id: string): Promise<void> {
    // One refresh of a subscription at a time, else two could each start a worker for it.
    const next = (this.refreshes.get(id) ?? Promise.resolve()).then(() => this.restart(id));
    const settled = next.catch(() => undefined);
    this.refreshes.set(id, settled);
    void settled.then(() => {
      if (this.refreshes.get(id) === settled) this.refreshes.delete(id);
    });
    return next;
  }

  /** Re-reads every subscription (after announcements of changes may have been missed). */
  async refreshAll(): Promise<void> {
    const ids = new Set(this.workers.keys());
    for (const sub of await this.options.store.subscriptions.list()) ids.add(sub.id);
    await Promise.all([...ids].map((id) => this.refresh(id)));
  }

  private async restart(id: string): Promise<void> {
    const old = this.workers.get(id);
    this.workers.delete(id);
    // The old worker's attempts in flight finish (bounded by the attempt timeout) and are recorded before the new
    // worker loads the open deliveries: otherwise it would send them a second time, and break ordering by key.
    if (old) {
      await old.stop();
      await this.recorder.flush();
    }
    if (this.stopped || this.options.runWorkers === false) return;
    const { store } = this.options;
    if (this.handingOver.delete(id)) {
      await store.leases.release({ nodeId: this.nodeId, subscriptionIds: [id] });
      return;
    }
    const sub = await store.subscriptions.get(id);
    if (!sub?.active) {
      // Deleted, paused or disabled: its lease is of no use to this node any more.
      if (this.held.delete(id)) await store.leases.release({ nodeId: this.nodeId, subscriptionIds: [id] });
      return;
    }
    // Only the node holding the subscription's lease delivers it; a new subscription's lease is claimed right here.
    const held = (await store.leases.acquire({ nodeId: this.nodeId, subscriptionIds: [id], ttlMs: this.leaseTtlMs, now: Date.now() })).length > 0;
    if (!held) {
      this.held.delete(id);
      return;
    }
    this.held.add(id);
    if (this.stopped) {
      this.held.delete(id);
      await store.leases.release({ nodeId: this.nodeId, subscriptionIds: [id] });
      return;
    }
    await this.startWorker(sub);
  }

  /** Hands deliveries (a manual retry, a replay) to the subscription's worker. */
  enqueue(subscriptionId: string, deliveries: Delivery[]): void {
    this.workers.get(subscriptionId)?.add(deliveries);
  }

  /**
   * Stops sending and waits up to `graceMs` for attempts in flight, then records what finished. An attempt still
   * running after that is sent again after the restart (its delivery row is pending): at least once. Then releases
   * the subscription leases this node held, so that another node takes them over at its next renewal;
   * `keepLeases` (tests) leaves them to expire instead, as a node that died would.
   */
  async stop(graceMs = 5_000, options: { keepLeases?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearInterval(this.sweepTimer);
    await this.sweeping;
    const draining = [...this.workers.values()].map((w) => w.stop());
    draining.push(...this.sweptInFlight);
    this.workers.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(draining), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.recorder.flush();
    this.recorder.close();
    await this.renewing;
    // After the workers stopped: another node may take the subscriptions over at once. `keepLeases` (tests) leaves
    // them to expire, as a node that died would.
    const held = [...this.held, ...this.handingOver];
    this.held.clear();
    this.handingOver.clear();
    if (!options.keepLeases) {
      await Promise.all([this.options.store.leases.removeNode(this.nodeId), this.options.store.leases.release({ nodeId: this.nodeId, subscriptionIds: held })]).catch((error: unknown) =>
        this.options.log.error({ err: error, nodeId: this.nodeId }, "releasing subscription leases failed"),
      );
    }
  }

  /** In-flight count across subscriptions, for tests and metrics. */
  get inFlight(): number {
    return this.globalInFlight;
  }

  private async startWorker(sub: Subscription): Promise<void> {
    const worker = new SubscriptionWorker(sub, this, this.options, this.recorder);
    this.workers.set(sub.id, worker);
    try {
      await worker.load();
    } catch (error) {
      // Nothing may be sent before the open deliveries are loaded: drop this worker and try again shortly.
      if (this.workers.get(sub.id) === worker) this.workers.delete(sub.id);
      await worker.stop();
      setTimeout(() => this.refreshLogged(sub.id), CLAIM_RETRY_MS).unref();
      throw error;
    }
    worker.wake();
  }

  /**
   * @internal the page of the log after `cursor`. After a commit every worker reads from the same cursor: one read
   * serves them all (with 100 subscriptions, ingest measured 7x slower reading it 100 times). A few pages are kept.
   */
  readLog(cursor: number): Promise<StoredEvent[]> {
    let page = this.pages.get(cursor);
    if (!page) {
      if (this.pages.size >= PAGES_KEPT) this.pages.delete(this.pages.keys().next().value!);
      page = this.options.store.events.readAfter(cursor, FILL_PAGE);
      this.pages.set(cursor, page);
      page.catch(() => this.pages.delete(cursor));
    }
    return page;
  }

  /** @internal takes a slot of the global cap, or queues the worker for one. */
  takeSlot(worker: SubscriptionWorker): boolean {
    if (this.globalInFlight < this.options.maxInFlight) {
      this.globalInFlight++;
      return true;
    }
    this.waitingForSlot.add(worker);
    return false;
  }

  /** @internal */
  releaseSlot(): void {
    this.globalInFlight--;
    const next = this.waitingForSlot.values().next();
    if (!next.done) {
      this.waitingForSlot.delete(next.value);
      next.value.wake();
    }
  }

  /** @internal a worker whose subscription the hub disabled. */
  forget(id: string): void {
    this.workers.get(id)?.stop();
    this.workers.delete(id);
  }
}

/** A delivery in memory, with the event when the worker already has it. */
interface Job extends Delivery {
  event?: StoredEvent;
}

/** One subscription's sending loop. */
class SubscriptionWorker {
  private sub: Subscription;
  private readonly dispatcher: Dispatcher;
  private readonly options: DispatcherOptions;
  private readonly recorder: AttemptRecorder;
  private readonly topic: TopicMatcher;
  private readonly filter: EventFilter | undefined;
  private cursor: number;
  /** Deliveries that may be sent now, in log order. */
  private readonly ready: Job[] = [];
  /** Deliveries waiting for a retry, ordered by nextAttemptAt. */
  private readonly waiting: Job[] = [];
  /** Ordering by key: keys with a delivery ready, in flight or waiting; later ones of the key are parked. */
  private readonly activeKeys = new Set<string>();
  private readonly parked = new Map<string, Job[]>();
  private parkedCount = 0;
  /** Ids of the deliveries this worker has open (ready, waiting, parked, claiming or in flight): each admitted once. */
  private readonly openIds = new Set<string>();
  /** Until load() has read the open deliveries, nothing is read from the log: its new rows would be loaded again. */
  private loaded = false;
  private inFlight = 0;
  /** Due retries being claimed (see {@link claim}). */
  private claiming = 0;
  private consecutiveFailures = 0;
  private filling = false;
  private logHasMore = true;
  /** Set when a commit arrives while a fill reads: that read may predate it. */
  private logMovedDuringFill = false;
  /** The cursor as last written to the store; the in-memory one runs ahead over events selecting nothing. */
  private persistedCursor: number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private tokens: number;
  private tokensAt: number;
  private stopped = false;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(sub: Subscription, dispatcher: Dispatcher, options: DispatcherOptions, recorder: AttemptRecorder) {
    this.sub = sub;
    this.dispatcher = dispatcher;
    this.options = options;
    this.recorder = recorder;
    this.topic = compileTopicPattern(sub.topic);
    this.filter = sub.filter ? compileFilter(sub.filter) : undefined;
    this.cursor = sub.cursorSeq;
    this.persistedCursor = sub.cursorSeq;
    this.tokens = sub.rateLimit ?? 0;
    this.tokensAt = dispatcher.now();
  }

  /** Loads the subscription's open deliveries (pending and retrying) left by an earlier run. */
  async load(): Promise<void> {
    let after = { seq: 0, id: "" };
    for (;;) {
      // Keyset on (event_seq, id): replays put several deliveries on one event, and a page may end among them.
      const page = await this.options.store.deliveries.listOpen({ subscriptionId: this.sub.id, afterSeq: after.seq, limit: 1000, afterId: after.id });
      this.add(page);
      if (page.length < 1000) {
        this.loaded = true;
        return;
      }
      const last = page[page.length - 1]!;
      after = { seq: last.eventSeq, id: last.id };
    }
  }

  /** Adds deliveries (loaded, retried by hand, replayed) in log order. */
  add(deliveries: Delivery[]): void {
    const now = this.dispatcher.now();
    for (const d of deliveries) this.admit(d as Job, now);
    this.wake();
  }

  /** Stops sending; writes the in-memory cursor; resolves when the attempts in flight have finished. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      if (this.cursor > this.persistedCursor) {
        const cursor = this.cursor;
        await this.options.store.deliveries.advanceCursor({ subscriptionId: this.sub.id, cursorSeq: cursor, now: this.dispatcher.now() }).then(
          () => (this.persistedCursor = cursor),
          (error: unknown) => this.options.log.error({ err: error, subscriptionId: this.sub.id }, "writing a subscription cursor failed"),
        );
      }
      if (this.inFlight === 0) return;
      await new Promise<void>((resolve) => (this.idle = resolve));
    })();
    return this.stopping;
  }

  wake(): void {
    if (this.stopped) return;
    this.pump();
  }

  /** New events were committed. */
  logMoved(): void {
    this.logHasMore = true;
    if (this.filling) this.logMovedDuringFill = true;
    this.wake();
  }

  private get open(): number {
    return this.ready.length + this.waiting.length + this.parkedCount + this.inFlight + this.claiming;
  }

  private pump(): void {
    if (!this.loaded) return;
    const now = this.dispatcher.now();
    // Due retries are claimed before they are sent: another node may have taken them over while this one was cut off
    // from the database.
    let toClaim: Job[] | undefined;
    while (this.waiting.length > 0 && this.waiting[0]!.nextAttemptAt <= now) {
      const job = this.waiting.shift()!;
      if (job.status === "retrying") (toClaim ??= []).push(job);
      else this.ready.push(job);
    }
    if (toClaim) void this.claim(toClaim);
    while (this.ready.length > 0 && this.inFlight < this.sub.maxInFlight && !this.stopped) {
      if (!this.takeToken(now)) break;
      if (!this.dispatcher.takeSlot(this)) {
        this.returnToken();
        break;
      }
      void this.send(this.ready.shift()!);
    }
    // While the endpoint keeps failing, new events stay in the log; the open deliveries' retries probe it. With
    // none left open (all died), one more page is read so that the subscription never stalls.
    const breakerOpen = this.consecutiveFailures >= BREAKER_FAILURES && this.open > 0;
    if (!this.filling && this.logHasMore && !breakerOpen && this.open < this.sub.maxInFlight + READ_AHEAD) void this.fill();
    this.scheduleTimer(now);
  }

  /** Claims due retries; those another node claimed are its to send and record, and leave this worker. */
  private async claim(jobs: Job[]): Promise<void> {
    this.claiming += jobs.length;
    let claimed: Set<string> | undefined;
    try {
      // The claim must see the failed attempt that made each of these a retry: its record may still be queued.
      await this.recorder.flush();
      const ids = jobs.map((job) => job.id);
      claimed = new Set(await this.options.store.deliveries.claimRetries({ nodeId: this.dispatcher.nodeId, deliveryIds: ids, now: this.dispatcher.now(), marginMs: CLAIM_MARGIN_MS }));
    } catch (error) {
      this.options.log.error({ err: error, subscriptionId: this.sub.id }, "claiming retries failed");
    }
    this.claiming -= jobs.length;
    const now = this.dispatcher.now();
    // Retries were due before the first attempts queued meanwhile: they go first.
    const mine: Job[] = [];
    for (const job of jobs) {
      if (claimed === undefined) {
        job.nextAttemptAt = now + CLAIM_RETRY_MS;
        this.wait(job);
      } else if (claimed.has(job.id)) mine.push(job);
      else {
        this.openIds.delete(job.id);
        this.release(job, now);
      }
    }
    this.ready.unshift(...mine);
    this.wake();
  }

  /** Reads the log after the cursor and turns the selected events into pending deliveries. */
  private async fill(): Promise<void> {
    this.filling = true;
    this.logMovedDuringFill = false;
    try {
      const { store } = this.options;
      const events = await this.dispatcher.readLog(this.cursor);
      if (this.stopped) return;
      this.logHasMore = events.length === FILL_PAGE || this.logMovedDuringFill;
      if (events.length === 0) return;
      const now = this.dispatcher.now();
      const firstDelay = Math.max(0, (this.sub.retrySchedule[0] ?? 0) * 1000);
      const jobs: Job[] = [];
      for (const event of events) {
        if (!this.topic.matches(event.topic) || (this.filter && !this.filter.matches(event))) continue;
        const d: NewDelivery = {
          id: newPrefixedId("dlv", now),
          subscriptionId: this.sub.id,
          eventSeq: event.seq,
          eventId: event.id,
          orderingKey: event.key,
          nextAttemptAt: now + firstDelay,
        };
        jobs.push({
          ...d,
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
        await store.deliveries.add({ subscriptionId: this.sub.id, deliveries: jobs, cursorSeq: lastSeq, now });
        this.persistedCursor = lastSeq;
      }
      this.cursor = lastSeq;
      for (const job of jobs) this.admit(job, now);
    } catch (error) {
      this.options.log.error({ err: error, subscriptionId: this.sub.id }, "reading the log for a subscription failed");
      this.logHasMore = false;
    } finally {
      this.filling = false;
    }
    // Yield to I/O between pages: a backlog of many pages must not hold the event loop.
    if (!this.stopped) setImmediate(() => this.wake());
  }

  /** Puts a delivery where it belongs: ready, waiting for its time, or parked behind its key. */
  private admit(job: Job, now: number): void {
    // A delivery already open here (loaded, then handed over again by a retry or replay) is not sent twice.
    if (this.openIds.has(job.id)) return;
    this.openIds.add(job.id);
    const key = this.sub.ordering === "key" ? job.orderingKey : null;
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
    if (job.nextAttemptAt <= now) this.ready.push(job);
    else this.wait(job);
  }

  private wait(job: Job): void {
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

  /** The delivery is finished (delivered or dead): the next of its key may go. */
  private release(job: Job, now: number): void {
    const key = this.sub.ordering === "key" ? job.orderingKey : null;
    if (key === null) return;
    const queue = this.parked.get(key);
    const next = queue?.shift();
    if (!next) {
      this.activeKeys.delete(key);
      return;
    }
    this.parkedCount--;
    if (queue!.length === 0) this.parked.delete(key);
    if (next.nextAttemptAt <= now) this.ready.push(next);
    else this.wait(next);
  }

  private async send(job: Job): Promise<void> {
    this.inFlight++;
    const event = job.event ?? (await this.options.store.events.get(job.eventId).catch(() => undefined));
    const attemptedAt = this.dispatcher.now();
    const result = await this.dispatcher.attempt(this.sub, job.id, event, attemptedAt);
    job.event = undefined;
    this.inFlight--;
    this.dispatcher.releaseSlot();
    this.settle(job, result, attemptedAt, event);
    if (this.stopped) {
      if (this.inFlight === 0) this.idle?.();
      return;
    }
    this.pump();
  }

  /** Records the attempt and decides what happens next. */
  private settle(job: Job, result: AttemptResult, attemptedAt: number, event: StoredEvent | undefined): void {
    const now = this.dispatcher.now();
    job.attempts++;
    job.lastStatus = result.status;
    job.lastError = result.error;
    const { status, nextAttemptAt } = outcomeOf(this.sub, job.attempts, result, event !== undefined, now);
    job.status = status;
    if (status === "delivered") {
      this.openIds.delete(job.id);
      this.consecutiveFailures = 0;
      if (this.sub.failingSince !== null) this.markHealthy();
      this.release(job, now);
    } else {
      this.consecutiveFailures++;
      if (status === "dead") {
        this.openIds.delete(job.id);
        this.release(job, now);
        this.options.metrics?.deliveriesDead.inc();
        this.dispatcher.announceDead(this.sub, job, event?.topic);
      } else {
        job.nextAttemptAt = nextAttemptAt!;
        this.wait(job);
      }
      this.markFailing(now, result);
    }
    this.recorder.record(attemptRecord(job.id, attemptedAt, result, status, job.attempts, nextAttemptAt));
  }

  private markHealthy(): void {
    this.sub = { ...this.sub, failingSince: null };
    void this.options.store.subscriptions.update(this.sub.id, { failingSince: null }, this.dispatcher.now()).catch((error: unknown) => {
      this.options.log.error({ err: error, subscriptionId: this.sub.id }, "updating subscription health failed");
    });
  }

  private markFailing(now: number, result: AttemptResult): void {
    const { store, log, disableAfterMs } = this.options;
    let reason: string | undefined;
    if (result.gone) reason = "the endpoint answered 410 Gone";
    else if (this.sub.failingSince !== null && now - this.sub.failingSince >= disableAfterMs) {
      reason = `every attempt failed for ${Math.round((now - this.sub.failingSince) / 3_600_000)} h`;
    }
    if (reason) {
      this.stopped = true;
      const id = this.sub.id;
      void this.dispatcher
        .disable(this.sub, reason, now)
        .catch((error: unknown) => log.error({ err: error, subscriptionId: id }, "disabling a subscription failed"));
      return;
    }
    if (this.sub.failingSince === null) {
      this.sub = { ...this.sub, failingSince: now };
      void store.subscriptions.update(this.sub.id, { failingSince: now }, now).catch((error: unknown) => {
        log.error({ err: error, subscriptionId: this.sub.id }, "updating subscription health failed");
      });
    }
  }

  private takeToken(now: number): boolean {
    const rate = this.sub.rateLimit;
    if (rate === null) return true;
    const capacity = Math.max(1, rate);
    this.tokens = Math.min(capacity, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private returnToken(): void {
    if (this.sub.rateLimit !== null) this.tokens += 1;
  }

  /** One timer: the next due retry, or the next rate-limit token while deliveries are ready. */
  private scheduleTimer(now: number): void {
    let at = this.waiting.length > 0 ? this.waiting[0]!.nextAttemptAt : Infinity;
    if (this.ready.length > 0 && this.sub.rateLimit !== null && this.tokens < 1 && this.inFlight < this.sub.maxInFlight) {
      at = Math.min(at, now + Math.ceil(((1 - this.tokens) * 1000) / this.sub.rateLimit));
    }
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity || this.stopped) return;
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

/** Group commit for attempt records: every outcome of one tick in one transaction. */
class AttemptRecorder {
  private readonly store: Store;
  private readonly log: Logger;
  private batch: AttemptRecord[] = [];
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;

  constructor(store: Store, log: Logger) {
    this.store = store;
    this.log = log;
  }

  /** After close, late outcomes are dropped: their deliveries stay pending and are sent again after a restart. */
  close(): void {
    this.closed = true;
  }

  record(record: AttemptRecord): void {
    if (this.closed) return;
    this.batch.push(record);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.write());
  }

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

/**
 * What an attempt leaves its delivery in: delivered; retrying after the schedule's next delay (or the receiver's
 * Retry-After, when later); or dead once the schedule is spent or the event is no longer stored.
 */
function outcomeOf(
  sub: Subscription,
  attempts: number,
  result: AttemptResult,
  eventStored: boolean,
  now: number,
): { status: "delivered" | "retrying" | "dead"; nextAttemptAt: number | null } {
  if (result.ok) return { status: "delivered", nextAttemptAt: null };
  const delay = eventStored ? nextDelayMs(sub.retrySchedule, attempts) : undefined;
  if (delay === undefined) return { status: "dead", nextAttemptAt: null };
  return { status: "retrying", nextAttemptAt: now + Math.max(delay, result.retryAfterMs ?? 0) };
}

/** The record of one attempt and the state it leaves its delivery in. */
function attemptRecord(
  deliveryId: string,
  attemptedAt: number,
  result: AttemptResult,
  status: AttemptRecord["status"],
  attempts: number,
  nextAttemptAt: number | null,
): AttemptRecord {
  return {
    deliveryId,
    attemptedAt,
    statusCode: result.status,
    latencyMs: result.latencyMs,
    responseExcerpt: result.responseExcerpt,
    error: result.error,
    status,
    attempts,
    nextAttemptAt,
  };
}

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The headers of one attempt: the subscription's own, Standard Webhooks (webhook-id is the delivery id, the same on
 * every retry), CloudEvents binary mode and a traceparent continuing the event's trace.
 */
function webhookHeaders(sub: Subscription, deliveryId: string, event: StoredEvent, body: string, now: number, userAgent: string): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  const headers: Record<string, string> = { ...sub.headers };
  headers["content-type"] = "application/json";
  headers["user-agent"] = userAgent;
  headers["webhook-id"] = deliveryId;
  headers["webhook-timestamp"] = String(timestamp);
  headers["webhook-signature"] = signatureFor(sub.secret, deliveryId, timestamp, body);
  headers["ce-specversion"] = "1.0";
  headers["ce-id"] = headerValue(event.id);
  headers["ce-source"] = headerValue(event.source ?? `/switchboard/topics/${event.topic}`);
  headers["ce-type"] = headerValue(event.type ?? event.topic);
  headers["ce-time"] = formatTime(event.time);
  if (event.subject !== null) headers["ce-subject"] = headerValue(event.subject);
  headers["traceparent"] = traceparentFor(event.attributes.traceparent);
  return headers;
}

/** CloudEvents binary mode percent-encodes what a header cannot carry (and `%` itself). */
function headerValue(value: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(value)) return value;
  return value.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return "%EF%BF%BD"; // a lone surrogate: U+FFFD
    }
  });
}

/** A W3C traceparent: the event's trace continued with a new span, or a new trace. */
function traceparentFor(parent: string | undefined): string {
  const span = randomHex(8);
  const m = parent ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent) : null;
  if (m && m[1] !== "0".repeat(32)) return `00-${m[1]}-${span}-${m[2]}`;
  return `00-${randomHex(16)}-${span}-01`;
}

// randomBytes per attempt showed in profiles; trace ids need no more than a pooled draw.
let randomPool = randomBytes(4096);
let randomOffset = 0;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(4096);
    randomOffset = 0;
  }
  const hex = randomPool.toString("hex", randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return hex;
}
