import type { Logger } from "pino";
import pino from "pino";
import { Authenticator } from "./auth/authenticator.js";
import { validateConfig, type Config } from "./config.js";
import { DestinationRouter } from "./delivery/destinations/index.js";
import { Dispatcher, type DispatcherOptions } from "./delivery/dispatcher.js";
import { FunctionDestination, type ErrorReporter } from "./delivery/handlers/function-destination.js";
import type { Handler, HandlerOptions } from "./delivery/handlers/handler-options.js";
import { HandlerRegistry, type HandlerRegistration } from "./delivery/handlers/handler-registry.js";
import { reportingLogger } from "./delivery/handlers/reporting-logger.js";
import { StreamHub } from "./delivery/sse/stream-hub.js";
import { DEFAULT_COALESCE } from "./delivery/sse/frame-coalescer.js";
import { SubscriptionService } from "./delivery/subscriptions.js";
import { createWebhookClient, type WebhookClient } from "./delivery/webhooks/send-webhook.js";
import { startClusterSync, type ClusterSync, type ClusterSyncOptions } from "./hub/cluster-sync.js";
import { createEventFanout, type EventFanout } from "./hub/event-fanout.js";
import { startHousekeeping, type Housekeeping } from "./hub/housekeeping.js";
import { wireLiveEvents } from "./hub/live-events.js";
import { createOutbox, type Outbox } from "./hub/outbox/outbox.js";
import { OutboxRelay } from "./hub/outbox/outbox-relay.js";
import { createPublish, type PublishInput } from "./hub/publish.js";
import { Ingestor, type IngestorOptions, type PublishResult } from "./ingest/ingestor.js";
import { TopicCatalog } from "./ingest/topic-catalog.js";
import { HubMetrics } from "./metrics.js";
import { ContinuousAggregates } from "./aggregation/continuous-aggregates.js";
import { openStore, type OpenStoreOptions } from "./store/index.js";
import type { RetentionResult } from "./store/retention.js";
import type { NewEvent, Store, StoredEvent } from "./store/store.js";

/** Options of {@link createHub}: any configuration key, plus an already-open store or logger, and a clock. */
export interface HubOptions extends Partial<Config> {
  /** Use this store instead of opening `databaseUrl`; the hub will not close it. */
  store?: Store;
  log?: Logger;
  /**
   * The clock (epoch milliseconds) of the store, delivery, housekeeping and library publish; default `Date.now`.
   * Tests pass a fake one. Timers still run on real time.
   */
  now?: () => number;
  /**
   * Called for each failed handler run (`info`: handler, event, attempt, deliveryId) and for internal errors of the
   * delivery loop (`info.during`: what failed). It must not throw; what it throws is logged and dropped.
   */
  onError?: ErrorReporter;
}

export type { PublishInput } from "./hub/publish.js";
export type { ErrorInfo, ErrorReporter } from "./delivery/handlers/function-destination.js";
export type { BackoffFunction, Handler, HandlerContext, HandlerOptions } from "./delivery/handlers/handler-options.js";
export type { HandlerRegistration } from "./delivery/handlers/handler-registry.js";
export type { Outbox, OutboxReceipt } from "./hub/outbox/outbox.js";

/** How often closed buckets of continuous aggregates with `publish` are published. */
const AGGREGATE_PUBLISH_EVERY_MS = 10_000;

/** A running hub: the store, ingest, topics and live streams, without any HTTP. */
export interface Hub {
  readonly config: Readonly<Config>;
  readonly store: Store;
  readonly topics: TopicCatalog;
  readonly ingestor: Ingestor;
  readonly streams: StreamHub;
  /** Webhook subscriptions and deliveries. */
  readonly subscriptions: SubscriptionService;
  readonly dispatcher: Dispatcher;
  /** Picks each delivery's kind (webhook, NATS JetStream…) by url scheme; holds the broker connections. */
  readonly destinations: DestinationRouter;
  readonly metrics: HubMetrics;
  /** Whether auth is on, and verification of API keys and JWTs. */
  readonly auth: Authenticator;
  /** Continuous aggregates, maintained by the store at commit (see docs/aggregation.md). */
  readonly aggregates: ContinuousAggregates;
  readonly log: Logger;
  /**
   * Stores events (all or nothing) and resolves once they are committed.
   * @example await hub.publish({ topic: "orders.created", data: { id: 42 } })
   */
  publish(events: PublishInput | PublishInput[], options?: { idempotencyKey?: string }): Promise<PublishResult>;
  /**
   * The transactional outbox: `hub.outbox.publish(client, event)` inside the application's own transaction; the event
   * enters the log once, after the commit (see docs/library.md).
   */
  readonly outbox: Outbox;
  /** Calls `handler` with each committed event, in seq order; returns the unsubscribe function. */
  onEvent(handler: (event: StoredEvent) => void): () => void;
  /**
   * Calls `handler` with each event of a live-only topic (`storage: "none"`) published from now on, on this node or
   * (PostgreSQL) another; such events have no seq and are never stored. Returns the unsubscribe function.
   */
  onLiveEvent(handler: (event: NewEvent) => void): () => void;
  /**
   * Registers a durable in-process handler of the events of `topic` (a name or a pattern such as `orders.*`): a
   * subscription of kind "function" named `options.name`, with its cursor, deliveries, retries and dead letters. It
   * runs from {@link start} on (at once when registered after it). See docs/library.md.
   * @throws HubError `SB_HANDLER_INVALID` / `SB_FILTER_INVALID` for a bad option, `SB_HANDLER_EXISTS` for a name taken.
   * @example hub.handle("orders.created", async (event, ctx) => sendReceipt(event.data), { name: "send-receipt", maxErrors: 5 })
   */
  handle(topic: string, handler: Handler, options: HandlerOptions): HandlerRegistration;
  /**
   * Starts the handlers: stores each registered one, pauses the stored handlers not registered in this run, and
   * begins dispatching. Publishing works before it. Idempotent.
   */
  start(): Promise<void>;
  /**
   * Removes events past their topic's retention (or `eventRetentionMs`) now; the hub also does this every minute.
   * @example await hub.runRetention()
   */
  runRetention(now?: number): Promise<RetentionResult>;
  /** Finishes queued commits, closes streams and (if the hub opened it) the store. */
  close(): Promise<void>;
}

/**
 * Opens the store, loads topics and wires ingest to the live streams.
 * @throws ConfigError naming the first invalid configuration key, before anything is opened.
 * @example
 * const hub = await createHub({ databaseUrl: "sqlite:./data/app.db" });
 * hub.onEvent((e) => console.log(e.topic, e.data));
 * await hub.publish({ topic: "users.signup", data: { user_id: 1 } });
 */
export async function createHub(options: HubOptions = {}): Promise<Hub> {
  const { store: givenStore, log: givenLog, now = Date.now, onError, ...configPart } = options;
  const config = validateConfig(configPart);
  const log = givenLog ?? pino({ level: config.logLevel });
  const report: ErrorReporter = onError ?? (() => {});
  // The delivery loop's logger: its errors reach onError too.
  const loopLog = onError ? reportingLogger(log, onError) : log;
  const store = givenStore ?? (await openStore(config.databaseUrl, storeOptions(config, now)));
  const metrics = new HubMetrics({ topicLabelCap: config.metricsTopicLabelCap });
  const topics = new TopicCatalog(store, now);
  await topics.load();
  const streams = createStreams(config, store, metrics, log);
  const webhookClient = createWebhookClient({ allowPrivate: config.allowPrivateTargets, userAgent: USER_AGENT, now });
  // Late-bound: system events are published through the hub itself, once it exists.
  let publishSystemEvent: (topic: string, data: Record<string, unknown>) => Promise<void> = async () => {};
  const isLiveTopic = (topic: string): boolean => topics.isLive(topic);
  const { destinations, dispatcher, handlers } = createDelivery(
    config,
    { store, metrics, log, loopLog, now, webhookClient, report, isLiveTopic },
    (topic, data) => publishSystemEvent(topic, data),
  );
  const subscriptions = createSubscriptions(config, { store, metrics, dispatcher, now, isLiveTopic });
  const fanout = createEventFanout({ streams, dispatcher, log });
  const live = wireLiveEvents({ store, topics, emit: fanout.emitLive, log });
  // Late-bound: the relay needs the ingestor, which needs the cluster sync, which wakes the relay (and reads the ingestor).
  const late: { wakeRelay: () => void; ingestor?: Ingestor } = { wakeRelay: () => {} };
  // An `api` node runs no workers, so it has no subscriptions to re-read.
  const sync = await startClusterSyncOf(store, givenStore !== undefined, {
    emit: fanout.emit,
    dispatcher: config.role === "api" ? undefined : dispatcher,
    log: loopLog.child({ component: "cluster" }),
    onOutbox: () => late.wakeRelay(),
    localCommits: () => late.ingestor?.commitsInFlight(),
    ...live.announced,
  });
  const aggregates = new ContinuousAggregates({ store, log: log.child({ component: "aggregates" }), now, onError: metrics.countFilterError });
  const ingestor = (late.ingestor = createIngestor(config, { store, topics, metrics, sync, fanout, live: live.sink }));
  const housekeeping = startHousekeeping({ store, topics, config, log, now });
  // PostgreSQL wakes the relay by NOTIFY; SQLite by hub.outbox itself, and the sweep for other connections' rows.
  const relay = new OutboxRelay({ store, ingestor, log: log.child({ component: "outbox" }), sweepMs: sync ? undefined : config.outboxSweepMs });
  late.wakeRelay = () => relay.wake();
  await dispatcher.start();
  sync?.dispatcherStarted();
  relay.start();

  let closed = false;
  const hub: Hub = {
    config,
    store,
    topics,
    ingestor,
    streams,
    subscriptions,
    dispatcher,
    destinations,
    metrics,
    log,
    auth: new Authenticator({ config, store, now }),
    aggregates,
    publish: createPublish({ ingestor, config, now }),
    outbox: createOutbox({ store, ingestor, now, wake: () => late.wakeRelay() }),
    onEvent: fanout.onEvent,
    onLiveEvent: fanout.onLiveEvent,
    handle: (topic, handler, handlerOptions) => handlers.handle(topic, handler, handlerOptions),
    start: () => handlers.start(),
    runRetention: housekeeping.runRetention,
    async close() {
      if (closed) return;
      closed = true;
      await aggregates.close();
      await closeInOrder({ relay, housekeeping, ingestor, sync, dispatcher, webhookClient, destinations, streams, metrics });
      if (!givenStore) await store.close();
    },
  };
  aggregates.startPublishing((events) => hub.publish(events), AGGREGATE_PUBLISH_EVERY_MS);
  publishSystemEvent = async (topic, data) => {
    if (!closed) await hub.publish({ topic, type: topic, source: "switchboard", data });
  };
  return hub;
}

/**
 * Where deliveries go and who sends them: the destination router (webhooks, brokers) behind the function
 * destination (in-process handlers), the dispatcher, and the handler registry.
 */
function createDelivery(
  config: Config,
  parts: {
    store: Store;
    metrics: HubMetrics;
    now: () => number;
    log: Logger;
    loopLog: Logger;
    webhookClient: WebhookClient;
    report: ErrorReporter;
    isLiveTopic: (topic: string) => boolean;
  },
  publishSystemEvent: DispatcherOptions["publishSystemEvent"],
): { destinations: DestinationRouter; dispatcher: Dispatcher; handlers: HandlerRegistry } {
  const { store, metrics, log, loopLog, now, webhookClient, report, isLiveTopic } = parts;
  const destinations = new DestinationRouter({
    webhookClient,
    userAgent: USER_AGENT,
    allowPrivate: config.allowPrivateTargets,
    log: loopLog.child({ component: "destinations" }),
  });
  const functions = new FunctionDestination(destinations, { log: log.child({ component: "handlers" }), report });
  const dispatcher = createDispatcher(config, { store, metrics, log: loopLog, now, client: webhookClient, destination: functions }, publishSystemEvent);
  const handlers = new HandlerRegistry({ store, dispatcher, destination: functions, log: log.child({ component: "handlers" }), report, now, isLiveTopic });
  return { destinations, dispatcher, handlers };
}

/** The ingestor, configured: commits go to the cluster sync (which emits them in seq order) or straight out. */
function createIngestor(
  config: Config,
  parts: Pick<IngestorOptions, "store" | "topics" | "metrics" | "live"> & { sync: ClusterSync | undefined; fanout: EventFanout },
): Ingestor {
  const { sync, fanout, ...rest } = parts;
  return new Ingestor({ ...rest, autoCreateTopics: config.autoCreateTopics, onCommit: (events) => (sync ? sync.local(events) : fanout.emit(events)) });
}

/** The live SSE streams, configured. */
function createStreams(config: Config, store: Store, metrics: HubMetrics, log: Logger): StreamHub {
  return new StreamHub({
    store,
    metrics,
    log: log.child({ component: "sse" }),
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
    maxBufferedBytes: config.sseMaxBufferedBytes,
    maxStreams: config.sseMaxStreams,
    coalesce: { ...DEFAULT_COALESCE, holdMs: config.sseHoldMs },
  });
}

/** The subscription service, configured. */
function createSubscriptions(
  config: Config,
  parts: Pick<ConstructorParameters<typeof SubscriptionService>[0], "store" | "metrics" | "dispatcher" | "now" | "isLiveTopic">,
): SubscriptionService {
  return new SubscriptionService({
    ...parts,
    allowPrivateTargets: config.allowPrivateTargets,
    defaultTimeoutMs: config.webhookTimeoutMs,
    maxSubscriptions: config.maxSubscriptions,
  });
}

/** The dispatcher, configured; it runs workers unless this is an `api` node. */
function createDispatcher(
  config: Config,
  parts: Pick<DispatcherOptions, "store" | "metrics" | "log" | "now" | "client" | "destination">,
  publishSystemEvent: DispatcherOptions["publishSystemEvent"],
): Dispatcher {
  return new Dispatcher({
    ...parts,
    publishSystemEvent,
    log: parts.log.child({ component: "dispatcher" }),
    maxInFlight: config.deliveryConcurrency,
    disableAfterMs: config.subscriptionDisableAfterMs,
    userAgent: USER_AGENT,
    runWorkers: config.role !== "api",
  });
}

/** Cluster sync when the store is shared (PostgreSQL), else none. A store the hub opened is closed if it fails. */
async function startClusterSyncOf(store: Store, storeGiven: boolean, options: Omit<ClusterSyncOptions, "store">): Promise<ClusterSync | undefined> {
  if (store.mode !== "cluster") return undefined;
  try {
    return await startClusterSync({ store, ...options });
  } catch (error) {
    if (!storeGiven) await store.close();
    throw error;
  }
}

/** Stops taking work, finishes what is queued, then closes, each part after those that feed it. */
async function closeInOrder(parts: {
  relay: OutboxRelay;
  housekeeping: Housekeeping;
  ingestor: Ingestor;
  sync: ClusterSync | undefined;
  dispatcher: Dispatcher;
  webhookClient: WebhookClient;
  destinations: DestinationRouter;
  streams: StreamHub;
  metrics: HubMetrics;
}): Promise<void> {
  // Rows it has not relayed stay in the outbox for the next start.
  await parts.relay.stop();
  await parts.housekeeping.stop();
  await parts.ingestor.drain();
  await parts.sync?.stop();
  // The dispatcher gives attempts in flight a grace period; whatever still runs after it is cut (its delivery row is
  // pending, so it is sent again after the restart).
  await parts.dispatcher.stop();
  await parts.webhookClient.destroy();
  await parts.destinations.close();
  parts.streams.closeAll();
  parts.metrics.close();
}

const USER_AGENT = "switchboard/0.1.0";

/** How the hub opens its store. */
function storeOptions(config: Config, now: () => number): OpenStoreOptions {
  return {
    sqliteSynchronous: config.sqliteSynchronous,
    sqliteBackgroundCheckpoints: true,
    pgPartitionSize: config.pgPartitionSize,
    // A publish may wait for the commit in flight and then its own: both within the request timeout.
    pgCommitTimeoutMs: Math.max(1_000, Math.floor(config.requestTimeoutMs / 3)),
    now,
    rollups: config.rollups,
  };
}
