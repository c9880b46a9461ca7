import type { Logger } from "pino";
import { newPrefixedId } from "../ids.js";
import type { HubMetrics } from "../metrics.js";
import type { AddDeliveriesRequest, Delivery, StoredEvent, Subscription } from "../store/store.js";
import { AttemptRecorder } from "./attempt-recorder.js";
import { AttemptSender } from "./attempt-sender.js";
import { DeliveryAdmitter } from "./delivery-admitter.js";
import { isSharedStore, type DeliveryStore } from "./delivery-store.js";
import type { Destination } from "./destination.js";
import { isFunctionUrl } from "./handlers/handler-options.js";
import { InFlightSlots } from "./in-flight-slots.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { LogPages } from "./log-pages.js";
import { RetrySweeper } from "./retry-sweeper.js";
import { CLAIM_RETRY_MS, LEASE_RENEW_MS, LEASE_TTL_MS } from "./timing.js";
import type { WebhookClient } from "./webhooks/send-webhook.js";
import { webhookDestination } from "./webhooks/webhook-destination.js";
import { SubscriptionWorker } from "./worker/subscription-worker.js";
import type { CommitSummary, WorkerContext } from "./worker/worker-context.js";

export { LEASE_RENEW_MS, LEASE_STALE_AFTER_MS, LEASE_TTL_MS, RETRY_SWEEP_MS, RETRY_TAKEOVER_AFTER_MS } from "./timing.js";

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  store: DeliveryStore;
  /** Sends the webhooks (unless `destination` is given). */
  client: WebhookClient;
  /** Where deliveries go; default HTTP webhooks through `client`. */
  destination?: Destination;
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
 * Turns the event log into deliveries. Each active subscription whose lease this node holds has a worker that reads
 * the log after its cursor (ingest writes nothing per subscription), writes a pending delivery row per selected
 * event together with the new cursor (so a crash loses nothing), sends, and records every attempt. A commit wakes
 * the workers; the only timers are for retries that are due later, rate limits, leases and the retry sweep.
 *
 * The dispatcher keeps the registry of workers; the parts it wires: {@link LeaseKeeper} (which subscriptions this
 * node delivers), {@link RetrySweeper} (retries of nodes that are gone), {@link AttemptRecorder} (group commit of
 * outcomes), {@link InFlightSlots} (the global cap), {@link LogPages} (one read of the log per commit) and
 * {@link AttemptSender} (the destination, metrics, health).
 */
export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly workers = new Map<string, SubscriptionWorker>();
  private readonly refreshes = new Map<string, Promise<void>>();
  /** In-process handlers this node runs: their leases are outside the share (see `LeaseKeeperOptions.unshared`). */
  private readonly unshared = new Set<string>();
  private readonly recorder: AttemptRecorder;
  private readonly slots: InFlightSlots;
  private readonly pages: LogPages;
  private readonly leases: LeaseKeeper;
  private readonly sweeper: RetrySweeper;
  private readonly context: WorkerContext;
  private readonly destination: Destination;
  private stopped = false;
  /** The last seq of the commit {@link notify} was last told of; undefined until then, or when it was not told. */
  private logEnd: number | undefined;
  readonly now: () => number;
  /** This node's id in subscription leases. */
  readonly nodeId: string;

  constructor(options: DispatcherOptions) {
    this.options = options;
    const { store, log, metrics, publishSystemEvent } = options;
    const now = (this.now = options.now ?? Date.now);
    const nodeId = (this.nodeId = options.nodeId ?? newPrefixedId("node", now()));
    const leaseTtlMs = options.leaseTtlMs ?? LEASE_TTL_MS;
    this.recorder = new AttemptRecorder(store, log);
    this.slots = new InFlightSlots(options.maxInFlight);
    this.pages = new LogPages(store);
    const destination = (this.destination = options.destination ?? webhookDestination({ client: options.client, userAgent: options.userAgent }));
    const sender = new AttemptSender({ store, destination, log, metrics, publishSystemEvent, onDisabled: (id) => this.forget(id) });
    this.leases = new LeaseKeeper({
      store,
      log,
      now,
      nodeId,
      ttlMs: leaseTtlMs,
      renewMs: options.leaseRenewMs ?? LEASE_RENEW_MS,
      onChange: (id) => this.refreshLogged(id),
      unshared: (id) => this.unshared.has(id),
    });
    this.sweeper = new RetrySweeper({ store, log, now, nodeId, leaseTtlMs, slots: this.slots, sender, recorder: this.recorder });
    const { disableAfterMs } = options;
    const readLog = (cursor: number) => this.pages.read(cursor);
    // Grouped on SQLite, where each transaction's commit writes its pages to the WAL again (100 subscriptions on one
    // topic: 20% more webhooks a second). Not on PostgreSQL, where the pages go in parallel on the pool's connections:
    // one statement for all of them was no faster in `pg-webhook` (7,016-7,215 deliveries a second, 6,975-9,107 without).
    const admitter = isSharedStore(store) ? undefined : new DeliveryAdmitter(store);
    const admit = (request: AddDeliveriesRequest) => (admitter ? admitter.admit(request) : store.deliveries.add(request));
    const onFilterError = metrics?.countFilterError;
    this.context = { store, log, now, nodeId, slots: this.slots, sender, recorder: this.recorder, admit, readLog, disableAfterMs, onFilterError };
  }

  /**
   * Claims the leases of the active subscriptions that no other node holds and starts a worker for each claimed one;
   * then renews the leases (and claims ones freed or expired) every {@link LEASE_RENEW_MS}.
   */
  async start(): Promise<void> {
    if (this.options.runWorkers === false) return;
    const { store } = this.options;
    const active = await this.deliverable();
    await this.leases.claimInitial(active.map((sub) => sub.id));
    for (const sub of active) if (this.leases.holds(sub.id)) await this.startWorker(sub);
    this.leases.startRenewing(async () => (await this.deliverable()).map((sub) => sub.id));
    if (this.options.sweepRetries ?? isSharedStore(store)) this.sweeper.start();
  }

  /** Whether this node holds the lease of subscription `id` (so delivers it), for tests and diagnostics. */
  holds(id: string): boolean {
    return this.leases.holds(id) && this.workers.has(id);
  }

  /**
   * Called after each commit, with its events: every worker looks at the log again. When every commit since the
   * previous one came through here (the hub's fan-out hands each committed event over once, in seq order), the
   * commit is all the log holds after the previous one: its events serve as the next page of the log without a
   * query, and a worker at that point whose topic none of them has moves past them without reading at all. On
   * PostgreSQL the commit feed merges every node's commits into that one stream (see `CommitFeed`). Without `events`,
   * every worker reads the log.
   */
  notify(events?: StoredEvent[]): void {
    this.pages.clear();
    const after = this.logEnd;
    this.logEnd = events?.at(-1)?.seq;
    if (events === undefined || this.logEnd === undefined || after === undefined) {
      for (const worker of this.workers.values()) worker.logMoved();
      return;
    }
    this.pages.seed(after, events);
    const commit: CommitSummary = { after, last: this.logEnd, topics: new Set(events.map((e) => e.topic)) };
    for (const worker of this.workers.values()) worker.logMoved(commit);
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
    this.leases.halt();
    await this.sweeper.halt();
    const draining = [...this.workers.values()].map((w) => w.stop());
    draining.push(...this.sweeper.attemptsInFlight());
    this.workers.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(draining), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.recorder.flush();
    this.recorder.close();
    // After the workers stopped: another node may take the subscriptions over at once.
    await this.leases.releaseAll(options.keepLeases);
  }

  /** In-flight count across subscriptions, for tests and metrics. */
  get inFlight(): number {
    return this.slots.inFlight;
  }

  /** Subscriptions with work waiting for a slot of the global cap, for tests and metrics. */
  get waitingForSlots(): number {
    return this.slots.waiting;
  }

  /** The active subscriptions this node can deliver, higher priority first (their workers start in that order). */
  private async deliverable(): Promise<Subscription[]> {
    const subs = (await this.options.store.subscriptions.list()).filter((sub) => sub.active && (this.destination.serves?.(sub) ?? true));
    for (const sub of subs) if (isFunctionUrl(sub.url)) this.unshared.add(sub.id);
    return subs.sort((a, b) => b.priority - a.priority);
  }

  private refreshLogged(id: string): void {
    this.refresh(id).catch((error: unknown) => this.options.log.error({ err: error, subscriptionId: id }, "re-reading a subscription failed"));
  }

  private async restart(id: string): Promise<void> {
    try {
      await this.restartWorker(id);
    } finally {
      // No worker here any more (deleted, paused, lease elsewhere): the destination lets go of what it held for it.
      if (!this.workers.has(id)) this.destination.release?.(id);
    }
  }

  private async restartWorker(id: string): Promise<void> {
    const old = this.workers.get(id);
    this.workers.delete(id);
    // The old worker's attempts in flight finish (bounded by the attempt timeout) and are recorded before the new
    // worker loads the open deliveries: otherwise it would send them a second time, and break ordering by key.
    if (old) {
      await old.stop();
      await this.recorder.flush();
    }
    if (this.stopped || this.options.runWorkers === false) return;
    if (await this.leases.handOverIfDue(id)) return;
    const sub = await this.options.store.subscriptions.get(id);
    if (!sub?.active || !(this.destination.serves?.(sub) ?? true)) {
      // Deleted, paused or disabled, or not deliverable here: its lease is of no use to this node any more.
      await this.leases.release(id);
      return;
    }
    // Only the node holding the subscription's lease delivers it; a new subscription's lease is claimed right here.
    if (!(await this.leases.acquire(id))) return;
    if (this.stopped) {
      await this.leases.release(id);
      return;
    }
    await this.startWorker(sub);
  }

  private async startWorker(sub: Subscription): Promise<void> {
    const worker = new SubscriptionWorker(sub, this.context);
    this.workers.set(sub.id, worker);
    this.destination.open?.(sub);
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

  /** A worker whose subscription the hub disabled: it stops and leaves the registry. */
  private forget(id: string): void {
    const worker = this.workers.get(id);
    this.workers.delete(id);
    // Released once its attempts in flight are done: a send after the release would take the endpoint again.
    void (worker?.stop() ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        if (!this.workers.has(id)) this.destination.release?.(id);
      });
  }
}
