import {
  context,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
} from "@opentelemetry/api";
import { HubError } from "../errors.js";
import type { HubMetrics } from "../metrics.js";
import type { AppendRequest, AppendResult, NewEvent, Store, StoredEvent } from "../store/store.js";
import { hubTracer, traceparentOf } from "../telemetry.js";
import { EVENT_LIMITS } from "./limits.js";
import type { TopicCatalog } from "./topic-catalog.js";

/** Options of {@link Ingestor}. */
export interface IngestorOptions {
  store: Store;
  topics: TopicCatalog;
  metrics?: HubMetrics;
  /** Publishing to an unknown topic creates it; when false it is a 404. */
  autoCreateTopics: boolean;
  /** Called after each commit with the newly stored events, in seq order. Must not throw. */
  onCommit: (events: StoredEvent[]) => void;
  /** Where events of live-only topics go; without it they are answered and go nowhere. */
  live?: LiveSink;
}

/**
 * Where the events of live-only topics (`storage: "none"`) go instead of the store: this node's streams, and on a
 * shared database the other nodes'.
 */
export interface LiveSink {
  /**
   * Checks, before anything of the publish is stored or sent, that the events can go live.
   * @throws HubError `SB_LIVE_EVENT_TOO_LARGE` when one is too large to announce to the other nodes.
   */
  check(events: readonly NewEvent[]): void;
  /** Sends the events; a promise when the other nodes are told (it rejects if they could not be). */
  send(events: NewEvent[]): Promise<void> | void;
}

/** The answer for one event of a live-only topic: sent to the open streams, never stored, so it has no seq. */
export interface LiveResult {
  id: string;
  seq: null;
  topic: string;
  stored: false;
}

/** The answer to one publish. */
export interface PublishResult {
  /** One per event, in the request's order: a stored event's id and seq, or a {@link LiveResult}. */
  results: Array<AppendResult | LiveResult>;
  /** True when nothing was stored because this repeats an earlier request (same Idempotency-Key or ids). */
  replayed: boolean;
  /** How many of the events were stored now (the others repeated stored ids). */
  stored: number;
}

/** Options of one publish. */
export interface PublishOptions {
  /** The request's `Idempotency-Key`. */
  idempotencyKey?: string;
  /** The publishing credential's id when auth is on: repeats replay only within it (see store/repeats.ts). */
  publisher?: string;
  /** The outbox row this publish relays (see {@link AppendRequest.outboxId}). */
  outboxId?: string;
  /** The parent of the publish span (an HTTP request's `traceparent`); default the active context. */
  traceContext?: Context;
  /** How the events came: `http`, `library`, `outbox`; a span attribute. */
  transport?: string;
}

/**
 * Events queued before a second commit goes out while one is in flight (PostgreSQL): a batch POST of 500 does, single
 * POSTs mostly wait and make one commit of the lot.
 */
const OVERLAP_MIN_EVENTS = 256;

interface Pending {
  request: AppendRequest;
  /** The publish span, ended when the publish settles. */
  span: Span;
  queuedAt: bigint;
  resolve: (result: PublishResult) => void;
  reject: (error: Error) => void;
}

/**
 * Group commit: every publish that arrives while the event loop is busy (one tick, or the commits in flight) is
 * stored in one transaction. A publish resolves only after its transaction has committed, so an acknowledged
 * event is never lost. On SQLite commits run one at a time; on PostgreSQL a second one may be prepared and sent while
 * the first commits (the store's append lock keeps their order), and each commit's results are handled after the
 * previous one's, so `onCommit` sees events in seq order.
 */
export class Ingestor {
  private readonly options: IngestorOptions;
  private queue: Pending[] = [];
  private scheduled = false;
  /** The newest commit in flight; each commit settles only after the one before it. */
  private committing: Promise<void> | undefined;
  private inFlight = 0;
  /** Events of the publishes in {@link queue}. */
  private queuedEvents = 0;
  /**
   * Commits in flight at once. A PostgreSQL commit spends most of its time waiting on the database: with a second
   * one in flight, its parameters are encoded and sent meanwhile (the pg-batch bench went from 0.60 to 0.66 of raw
   * INSERTs), but only once {@link OVERLAP_MIN_EVENTS} are queued. SQLite commits synchronously, so one.
   */
  private readonly maxInFlight: number;

  constructor(options: IngestorOptions) {
    this.options = options;
    this.maxInFlight = options.store.dialect === "postgres" ? 2 : 1;
  }

  /**
   * Validates the events against their topics and queues them for the next commit.
   * @throws HubError for schema mismatches, unknown topics (when auto-create is off) or a bad Idempotency-Key.
   */
  publish(events: NewEvent[], options: PublishOptions = {}): Promise<PublishResult> {
    try {
      const result = this.publishNow(events, options);
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@link publish} for the publish routes: a publish settled at once (events of live-only topics sent to this node's
   * streams) is answered without a promise, and a refusal is thrown rather than rejected.
   * @throws HubError as {@link publish} rejects.
   */
  publishNow(events: NewEvent[], options: PublishOptions = {}): PublishResult | Promise<PublishResult> {
    const { topics, metrics } = this.options;
    if (topics.hasLiveTopics) {
      let live = 0;
      for (const e of events) if (topics.isLive(e.topic)) live++;
      if (live > 0) return this.publishLive(events, live, options);
    }
    const span = startPublishSpan(events, options);
    try {
      if (options.idempotencyKey !== undefined) checkIdempotencyKey(options.idempotencyKey);
      this.check(events);
    } catch (error) {
      metrics?.countIngestRequests("rejected");
      endSpan(span, error);
      throw error;
    }
    return this.enqueue(events, options, span);
  }

  /**
   * A publish with events of live-only topics. They pass the same checks (topic, schema), then go to the live sink
   * only: no store, no queue. In a batch with stored events, the stored ones commit first (all or nothing) and the
   * live ones are sent only once that succeeded, and not again when the request repeats an earlier one (replayed).
   * An Idempotency-Key covers the stored part only: nothing is kept to recognise a repeat of live events. An outbox
   * row of live events alone still goes through the store, which deletes it (a request of no events): the events are
   * sent once that succeeded, so a row another relay took is not sent twice.
   * @throws HubError when refused (or the sink's error when sending failed at once).
   */
  private publishLive(events: NewEvent[], liveCount: number, options: PublishOptions): PublishResult | Promise<PublishResult> {
    const { topics, metrics, live: sink } = this.options;
    const span = startPublishSpan(events, options);
    const toStore: NewEvent[] = [];
    const toSend: NewEvent[] = [];
    if (liveCount === events.length) toSend.push(...events);
    else for (const e of events) (topics.isLive(e.topic) ? toSend : toStore).push(e);
    try {
      if (options.idempotencyKey !== undefined) checkIdempotencyKey(options.idempotencyKey);
      this.check(events);
      sink?.check(toSend);
    } catch (error) {
      metrics?.countIngestRequests("rejected");
      endSpan(span, error);
      throw error;
    }
    if (toStore.length === 0 && options.outboxId === undefined) {
      metrics?.countIngestRequests("live");
      const result: PublishResult = { results: events.map(liveResult), replayed: false, stored: 0 };
      let sent;
      try {
        sent = sink?.send(toSend);
      } catch (error) {
        endSpan(span, error);
        throw error;
      }
      if (sent === undefined) {
        endSpan(span);
        return result;
      }
      return sent.then(
        () => (endSpan(span), result),
        (error: unknown) => {
          endSpan(span, error);
          throw error;
        },
      );
    }
    return this.enqueue(toStore, options, span).then(async (stored) => {
      if (!stored.replayed) await sink?.send(toSend);
      // The stored events' results come in their order; the live ones fill the other places (as split above: the
      // topic's storage may have changed meanwhile).
      const sent = new Set(toSend);
      let next = 0;
      const results = events.map((e) => (sent.has(e) ? liveResult(e) : stored.results[next++]!));
      return { ...stored, results };
    });
  }

  /** Queues checked events for the next group commit; resolves once committed, ending `span`. */
  private enqueue(events: NewEvent[], options: PublishOptions, span: Span): Promise<PublishResult> {
    const { autoCreateTopics } = this.options;
    return new Promise<PublishResult>((resolve, reject) => {
      const { idempotencyKey, publisher, outboxId } = options;
      this.queuedEvents += events.length;
      this.queue.push({
        request: { events, idempotencyKey, publisher, createTopics: autoCreateTopics, outboxId },
        span,
        queuedAt: process.hrtime.bigint(),
        resolve: (result) => {
          endSpan(span);
          resolve(result);
        },
        reject: (error) => {
          endSpan(span, error);
          reject(error);
        },
      });
      this.schedule();
    });
  }

  /**
   * The topic rules a publish must pass: the topic exists (unless auto-create is on) and `data` fits its schema.
   * @throws HubError SB_TOPIC_NOT_FOUND or SB_EVENT_SCHEMA_MISMATCH
   */
  check(events: readonly NewEvent[]): void {
    const { topics, autoCreateTopics } = this.options;
    const batch = events.length > 1;
    events.forEach((event, i) => {
      if (!topics.has(event.topic)) {
        if (!autoCreateTopics) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(event.topic)} does not exist`);
      } else {
        topics.validate(event.topic, event.data, batch ? `[${i}]` : "");
      }
    });
  }

  /** Settles once the commits in flight now have been handed to `onCommit` (or failed); undefined when none is. */
  commitsInFlight(): Promise<void> | undefined {
    // Each commit settles only after the one before it: the newest stands for all.
    return this.committing;
  }

  /** Resolves once every queued publish has been committed (or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      if (this.committing) await this.committing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    // Small publishes wait for the commit in flight and go together in the next: two commits of few events each cost
    // the database (a statement, a WAL flush, the lock handed over) more than encoding them meanwhile saves.
    if (this.inFlight > 0 && this.queuedEvents < OVERLAP_MIN_EVENTS) return;
    this.scheduled = true;
    // setImmediate runs after the I/O phase: every request parsed in this loop turn joins the same commit.
    setImmediate(() => {
      this.scheduled = false;
      if (this.queue.length === 0) return;
      this.inFlight++;
      const commit = this.commit(this.committing).finally(() => {
        this.inFlight--;
        if (this.committing === commit) this.committing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
      this.committing = commit;
    });
  }

  private async commit(previous: Promise<void> | undefined): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.queuedEvents = 0;
    const { store, metrics, topics, onCommit } = this.options;
    const started = process.hrtime.bigint();
    const span = startCommitSpan(batch, store.dialect);
    let outcomes;
    try {
      outcomes = await store.events.append(batch.map((p) => p.request));
      endSpan(span);
    } catch (error) {
      endSpan(span, error);
      await previous;
      metrics?.countIngestRequests("failed", batch.length);
      // A full disk says so (507); any other failure of the commit is the store being unavailable (503).
      const failure =
        error instanceof HubError && error.code === "SB_STORE_FULL"
          ? error
          : new HubError("SB_STORE_UNAVAILABLE", "the event could not be stored; retry", { cause: error });
      for (const p of batch) p.reject(failure);
      return;
    }
    // The previous commit took the append lock first, so its events come first: hand them on first.
    await previous;
    const committed = process.hrtime.bigint();
    const stored: StoredEvent[] = [];
    outcomes.forEach((outcome, i) => {
      const pending = batch[i]!;
      if (outcome.ok) {
        for (const e of outcome.stored) stored.push(e);
        metrics?.countIngestRequests(outcome.replayed ? "replayed" : "stored");
        metrics?.ingestLatency.observe(Number(committed - pending.queuedAt) / 1e9);
        pending.resolve({ results: outcome.results, replayed: outcome.replayed, stored: outcome.stored.length });
      } else {
        metrics?.countIngestRequests("failed");
        pending.reject(outcome.error);
      }
    });
    if (metrics) {
      metrics.commitDuration.observe(Number(committed - started) / 1e9);
      metrics.commitBatchEvents.observe(stored.length);
      metrics.countIngested(stored);
      metrics.otel.eventsPublished.add(stored.length);
    }
    if (stored.length > 0) {
      for (const e of stored) if (!topics.has(e.topic)) topics.noteCreated([e.topic]);
      onCommit(stored);
    }
  }
}

function liveResult(e: NewEvent): LiveResult {
  return { id: e.id, seq: null, topic: e.topic, stored: false };
}

function checkIdempotencyKey(key: string): void {
  if (key.length === 0 || key.length > EVENT_LIMITS.idempotencyKeyLength || /[\u0000-\u001f\u007f]/.test(key)) {
    throw new HubError("SB_REQUEST_INVALID", `Idempotency-Key must be 1-${EVENT_LIMITS.idempotencyKeyLength} printable characters`);
  }
}

/**
 * Starts the publish span, under `options.traceContext` (else the active context), and gives each event without a
 * `traceparent` the span's: deliveries of the event continue this trace. With no SDK installed the span is the
 * parent's own context (so an incoming `traceparent` is passed on as it is), or invalid and nothing is stamped.
 */
function startPublishSpan(events: NewEvent[], options: PublishOptions): Span {
  const span = hubTracer().startSpan("switchboard.publish", { kind: SpanKind.PRODUCER }, options.traceContext ?? context.active());
  // Attributes only for a recording span: with no SDK the hot path builds nothing.
  if (span.isRecording()) {
    const topics = new Set(events.map((e) => e.topic));
    span.setAttributes({
      "messaging.system": "switchboard",
      "messaging.operation.type": "send",
      "messaging.batch.message_count": events.length,
      ...(topics.size === 1 ? { "messaging.destination.name": events[0]!.topic } : {}),
      ...(events.length === 1 ? { "messaging.message.id": events[0]!.id } : {}),
      "switchboard.transport": options.transport ?? "library",
    });
  }
  const spanContext = span.spanContext();
  // With no SDK and no incoming trace the span's context is the API's invalid one: no need to check its ids' hex.
  if (spanContext !== INVALID_SPAN_CONTEXT && isSpanContextValid(spanContext)) {
    const traceparent = traceparentOf(spanContext);
    for (const e of events) if (e.attributes.traceparent === undefined) e.attributes = { ...e.attributes, traceparent };
  }
  return span;
}

/** The span of one group commit: a child of its first publish, linked to all of them. */
function startCommitSpan(batch: Pending[], dialect: string): Span {
  const first = batch[0]!.span;
  const links: Link[] = first.isRecording() ? batch.map((p) => ({ context: p.span.spanContext() })) : [];
  return hubTracer().startSpan(
    "switchboard.commit",
    {
      kind: SpanKind.INTERNAL,
      links,
      attributes: {
        "db.system": dialect === "postgres" ? "postgresql" : "sqlite",
        "switchboard.commit.requests": batch.length,
        "switchboard.commit.events": batch.reduce((n, p) => n + p.request.events.length, 0),
      },
    },
    trace.setSpan(ROOT_CONTEXT, first),
  );
}

/** Ends a span, as an error when `error` is given. */
function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
  }
  span.end();
}
