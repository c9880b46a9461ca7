import type { Logger } from "pino";
import pino from "pino";
import { Authenticator } from "./auth/authenticator.js";
import { validateConfig, type Config } from "./config.js";
import { CommitFeed } from "./delivery/commit-feed.js";
import { DestinationRouter } from "./delivery/destinations/index.js";
import { Dispatcher } from "./delivery/dispatcher.js";
import { StreamHub } from "./delivery/sse/stream-hub.js";
import { SubscriptionService } from "./delivery/subscriptions.js";
import { createWebhookClient } from "./delivery/webhooks/send-webhook.js";
import { HubError } from "./errors.js";
import { Ingestor, type PublishResult } from "./ingest/ingestor.js";
import { eventsFromJson } from "./ingest/normalize.js";
import { TopicCatalog } from "./ingest/topic-catalog.js";
import { HubMetrics } from "./metrics.js";
import { openStore } from "./store/index.js";
import { RETENTION_INTERVAL_MS, runRetention, type RetentionResult } from "./store/retention.js";
import type { Store, StoredEvent } from "./store/store.js";

/** Options of {@link createHub}: any configuration key, plus an already-open store or logger. */
export interface HubOptions extends Partial<Config> {
  /** Use this store instead of opening `databaseUrl`; the hub will not close it. */
  store?: Store;
  log?: Logger;
}

/** An event a library caller publishes. */
export interface PublishInput {
  topic?: string;
  type?: string;
  id?: string;
  key?: string;
  source?: string;
  subject?: string;
  time?: string | number;
  data: unknown;
  attributes?: Record<string, string>;
}

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
  readonly log: Logger;
  /**
   * Stores events (all or nothing) and resolves once they are committed.
   * @example await hub.publish({ topic: "orders.created", data: { id: 42 } })
   */
  publish(events: PublishInput | PublishInput[], options?: { idempotencyKey?: string }): Promise<PublishResult>;
  /** Calls `handler` with each committed event, in seq order; returns the unsubscribe function. */
  onEvent(handler: (event: StoredEvent) => void): () => void;
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
  const { store: givenStore, log: givenLog, ...configPart } = options;
  const config = validateConfig(configPart);
  const log = givenLog ?? pino({ level: config.logLevel });
  const store = givenStore ?? (await openStore(config.databaseUrl, { sqliteSynchronous: config.sqliteSynchronous, pgPartitionSize: config.pgPartitionSize }));
  const metrics = new HubMetrics();
  const topics = new TopicCatalog(store);
  await topics.load();
  const streams = new StreamHub({
    store,
    metrics,
    log: log.child({ component: "sse" }),
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
    maxBufferedBytes: config.sseMaxBufferedBytes,
    maxStreams: config.sseMaxStreams,
  });
  const handlers = new Set<(event: StoredEvent) => void>();
  const webhookClient = createWebhookClient({ allowPrivate: config.allowPrivateTargets, userAgent: USER_AGENT });
  // Late-bound: system events are published through the hub itself.
  let publishSystemEvent: (topic: string, data: Record<string, unknown>) => Promise<void> = async () => {};
  const destinations = new DestinationRouter({
    webhookClient,
    userAgent: USER_AGENT,
    allowPrivate: config.allowPrivateTargets,
    log: log.child({ component: "destinations" }),
  });
  const dispatcher = new Dispatcher({
    store,
    client: webhookClient,
    destination: destinations,
    log: log.child({ component: "dispatcher" }),
    metrics,
    maxInFlight: config.deliveryConcurrency,
    disableAfterMs: config.subscriptionDisableAfterMs,
    publishSystemEvent: (topic, data) => publishSystemEvent(topic, data),
    userAgent: USER_AGENT,
    runWorkers: config.role !== "api",
  });
  const subscriptions = new SubscriptionService({
    store,
    metrics,
    dispatcher,
    allowPrivateTargets: config.allowPrivateTargets,
    defaultTimeoutMs: config.webhookTimeoutMs,
    maxSubscriptions: config.maxSubscriptions,
  });
  /** Set when the store announces commits of other nodes (PostgreSQL). */
  let feed: CommitFeed | undefined;
  let unwatch: (() => Promise<void>) | undefined;
  let dispatcherStarted = false;
  let refreshSubscription: (id: string | undefined) => void = () => {};
  const changedBeforeStart: Array<string | undefined> = [];
  const ingestor = new Ingestor({
    store,
    topics,
    metrics,
    autoCreateTopics: config.autoCreateTopics,
    onCommit(events) {
      if (feed) feed.local(events);
      else emitCommitted(events);
    },
  });
  /** Committed events, of this node or (through the feed) of others, in seq order, each once. */
  const emitCommitted = (events: StoredEvent[]) => {
    streams.publish(events);
    dispatcher.notify();
    for (const handler of handlers) {
      for (const e of events) {
        try {
          handler(e);
        } catch (error) {
          log.error({ err: error, eventId: e.id }, "event handler threw");
        }
      }
    }
  };

  // Several nodes on one PostgreSQL: the other nodes' commits are announced (LISTEN/NOTIFY) and read from the store,
  // so streams on this node see every event, and this node's dispatcher every event to deliver.
  if (store.mode === "cluster") {
    const clusterLog = log.child({ component: "cluster" });
    const early: number[] = [];
    refreshSubscription = (id: string | undefined) => {
      // An `api` node runs no workers. Changes announced before dispatcher.start() finished are re-read after it.
      if (config.role === "api") return;
      if (!dispatcherStarted) {
        changedBeforeStart.push(id);
        return;
      }
      const done = id === undefined ? dispatcher.refreshAll() : dispatcher.refresh(id);
      done.catch((error: unknown) => clusterLog.error({ err: error, subscriptionId: id }, "re-reading a subscription failed"));
    };
    try {
      unwatch = await store.cluster.watchCommits({
        onCommit(lastSeq) {
          if (feed) feed.announced(lastSeq);
          else early.push(lastSeq);
        },
        onSubscriptionChange: refreshSubscription,
        onConnectionError(error) {
          clusterLog.warn({ err: error }, "commit announcements connection lost; reconnecting");
        },
      });
      // Listening before reading the last seq: a commit after it is announced, one before it is not needed.
      feed = new CommitFeed({ store, emit: emitCommitted, log: clusterLog, startSeq: await store.events.lastSeq() });
    } catch (error) {
      await unwatch?.();
      if (!givenStore) await store.close();
      throw error;
    }
    for (const seq of early) feed.announced(seq);
  }

  // Attempts older than the retention are removed in bounded batches, hourly, off the hot path.
  const pruneAttempts = async () => {
    const before = Date.now() - config.attemptRetentionMs;
    try {
      while ((await store.deliveries.pruneAttempts({ before, limit: 10_000 })) === 10_000) await new Promise((r) => setImmediate(r));
    } catch (error) {
      log.error({ err: error }, "pruning delivery attempts failed");
    }
  };
  const pruneTimer = setInterval(() => void pruneAttempts(), 3_600_000);
  pruneTimer.unref();
  void pruneAttempts();

  // Events past their topic's retention are removed every minute, in batches of short transactions. Runs do not
  // overlap: a run still going when the timer fires is left to finish.
  const retentionLog = log.child({ component: "retention" });
  let retentionRun: Promise<RetentionResult> | undefined;
  const removeExpiredEvents = (now: number): Promise<RetentionResult> => {
    retentionRun ??= runRetention(store, topics, config, now, { log: retentionLog }).finally(() => {
      retentionRun = undefined;
    });
    return retentionRun;
  };
  const scheduledRetention = () =>
    void removeExpiredEvents(Date.now()).catch((error: unknown) => retentionLog.error({ err: error }, "event retention failed"));
  const retentionTimer = setInterval(scheduledRetention, RETENTION_INTERVAL_MS);
  retentionTimer.unref();
  scheduledRetention();
  await dispatcher.start();
  dispatcherStarted = true;
  for (const id of changedBeforeStart.splice(0)) refreshSubscription(id);

  const auth = new Authenticator({ config, store });

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
    auth,
    log,
    publish(input, publishOptions) {
      const receivedAt = Date.now();
      let events;
      try {
        const items = Array.isArray(input) ? input : [input];
        if (items.length === 0) throw new HubError("SB_EVENT_INVALID", "nothing to publish");
        ({ events } = eventsFromJson(
          items.map((i) => ({ ...i, data: i.data })),
          { receivedAt, maxBatchEvents: config.maxBatchEvents },
        ));
      } catch (error) {
        return Promise.reject(error);
      }
      return ingestor.publish(events, publishOptions);
    },
    onEvent(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async runRetention(now = Date.now()) {
      // A run already under way (the timer's) finishes first, so this one sees `now` as asked.
      await retentionRun?.catch(() => undefined);
      return removeExpiredEvents(now);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pruneTimer);
      clearInterval(retentionTimer);
      await retentionRun?.catch(() => undefined);
      await ingestor.drain();
      await unwatch?.();
      await feed?.stop();
      // The dispatcher gives attempts in flight a grace period; whatever still runs after it is cut (its delivery
      // row is pending, so it is sent again after the restart).
      await dispatcher.stop();
      await webhookClient.destroy();
      await destinations.close();
      streams.closeAll();
      metrics.close();
      if (!givenStore) await store.close();
    },
  };
  publishSystemEvent = async (topic, data) => {
    if (closed) return;
    await hub.publish({ topic, type: topic, source: "switchboard", data });
  };
  return hub;
}

const USER_AGENT = "switchboard/0.1.0";
