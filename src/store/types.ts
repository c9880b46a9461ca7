/**
 * Glossary
 * - event: one stored message. `id` is client-given or a generated `evt_<ULID>`; `seq` is a store-wide, strictly
 *   increasing number given at commit; `time` is the event's own time (client-given, else the receive time).
 * - topic: a name events are published to; it may carry a JSON Schema that each event's data must satisfy.
 * - append request: the events of one HTTP request (or one library call); stored all or nothing, and several
 *   append requests share one transaction (group commit).
 * - subscription: a webhook endpoint and what it selects (topic or pattern, CEL filter). It reads the event log
 *   from its own cursor; ingest writes nothing per subscription.
 * - delivery: one event for one subscription (`dlv_…`, also the `webhook-id`), with its state: pending, delivered,
 *   retrying, dead. A delivery row is written when the dispatcher takes the event from the log, before sending.
 * - attempt: one HTTP request of a delivery, with its outcome.
 * - API key: a bearer token (`sbk_…`) with scopes; the store keeps its SHA-256 hash, never the token.
 *
 * Row types stay inside `store/`; everything here is the camelCase domain shape the rest of the code sees. The
 * store's interface, in parts, is in `store.ts`.
 */

/** An event as the ingest layer hands it to the store: validated, with its id and times decided. */
export interface NewEvent {
  id: string;
  /** Whether `id` came from the client (then a repeat is detected and answered with the first result). */
  clientId: boolean;
  topic: string;
  type: string | null;
  source: string | null;
  subject: string | null;
  /** Event time, epoch milliseconds. */
  time: number;
  key: string | null;
  /** `data` serialised as JSON text; what is stored and what SSE frames carry. */
  dataJson: string;
  /** The parsed data, kept so that live filters need not parse `dataJson` again. */
  data: unknown;
  attributes: Record<string, string>;
  /** Receive time, epoch milliseconds. */
  receivedAt: number;
  /**
   * The publish request's headers named by `captureHeaders`, lower-case names; absent when none were captured. At
   * most 8 KiB of names and values (see `ingest/captured-headers.ts`).
   */
  headers?: Record<string, string>;
}

/** A committed event. */
export interface StoredEvent extends NewEvent {
  seq: number;
}

/** The reply for one stored (or deduplicated) event. */
export interface AppendResult {
  id: string;
  seq: number;
  topic: string;
}

/** The events of one request, stored all or nothing. */
export interface AppendRequest {
  events: NewEvent[];
  /** `Idempotency-Key` of the request, if any: a repeat returns the first request's results. */
  idempotencyKey?: string;
  /**
   * The id of the publishing credential (`key_…`, `jwt:<sub>`); undefined when auth is off or in-process. Repeats
   * of client ids and Idempotency-Keys replay only within one publisher (see `repeats.ts`).
   */
  publisher?: string;
  /** Topics that do not exist are created; without it, the caller has checked they exist. */
  createTopics: boolean;
  /**
   * The outbox row this request relays: it is deleted in the same transaction, and when it is already gone (another
   * relay took it) the request fails with SB_OUTBOX_RELAYED and stores nothing.
   */
  outboxId?: string;
}

/** A row of the transactional outbox: an event committed by an application, not yet in the log. */
export interface OutboxEntry {
  id: string;
  event: NewEvent;
}

/** What happened to one append request inside a group commit. */
export type AppendOutcome =
  { ok: true; results: AppendResult[]; /** newly stored events, in seq order */ stored: StoredEvent[]; replayed: boolean } | { ok: false; error: Error };

/** A topic and its statistics. */
export interface Topic {
  name: string;
  description: string | null;
  /** JSON Schema that event data must satisfy, or null. */
  schema: unknown | null;
  originHost: string | null;
  createdAt: number;
  updatedAt: number;
  eventCount: number;
  /** Time the last event was received, epoch ms, or null when none. */
  lastEventAt: number | null;
  /** Events received longer ago than this are removed; 0 keeps them forever; null uses `eventRetentionMs`. */
  retentionMs: number | null;
  /** `log`: events are stored; `none`: live-only, events go to the open streams and are never written. */
  storage: TopicStorage;
}

/** Where a topic's events go: the log (stored, searchable, delivered) or nowhere but the open streams. */
export type TopicStorage = "log" | "none";

/** Fields of a topic a client may set. */
export interface TopicInput {
  name: string;
  description?: string | null;
  schema?: unknown | null;
  originHost?: string | null;
  /** See {@link Topic.retentionMs}. */
  retentionMs?: number | null;
  /** See {@link Topic.storage}; default `log`. */
  storage?: TopicStorage;
}

/** A patch of a topic; absent keys stay as they are. */
export type TopicPatch = Partial<Omit<TopicInput, "name">>;

/** A position in the order of a search: `(time, seq)` or `seq` alone, depending on `orderBy`. */
export interface EventCursor {
  time: number;
  seq: number;
}

/** The storage-level part of an event search: everything the store can answer with an index. */
export interface EventQuery {
  /** Exact topic names (already expanded from patterns by the caller when possible). */
  topics?: string[];
  /** Prefixes a topic must start with (for patterns such as `orders.*`); ORed with `topics`. */
  topicPrefixes?: string[];
  type?: string;
  key?: string;
  /** Inclusive lower bound of `time`, epoch ms. */
  fromTime?: number;
  /** Exclusive upper bound of `time`, epoch ms. */
  toTime?: number;
  /** Equality on top-level data fields. */
  dataEquals?: Array<{ field: string; value: string | number | boolean | null }>;
  /** Rows strictly after this position in the chosen order. */
  after?: EventCursor;
  order: "asc" | "desc";
  limit: number;
}

/** A webhook subscription. */
export interface Subscription {
  id: string;
  /** A topic name or pattern. */
  topic: string;
  url: string;
  /** The CEL filter that runs: the subscription's own, or the translation of {@link filterSource}. */
  filter: string | null;
  /** The syntax of {@link filterSource}; absent (with it) when the filter was written in CEL. */
  filterSyntax?: FilterSyntax;
  /** The filter as written in {@link filterSyntax}, when that is not CEL; absent or null otherwise. */
  filterSource?: string | null;
  headers: Record<string, string>;
  secret: string;
  /** The secret before the last rotation, which still signs too until {@link previousSecretUntil}; null when none. */
  previousSecret?: string | null;
  /** Epoch ms until which {@link previousSecret} signs; null when none. */
  previousSecretUntil?: number | null;
  active: boolean;
  /** Why the hub disabled it (410 Gone, failing too long), or null. */
  disabledReason: string | null;
  ordering: "none" | "key";
  /** Delays in seconds; entry i is the wait before attempt i + 1. */
  retrySchedule: number[];
  timeoutMs: number;
  maxInFlight: number;
  /** Deliveries per second, or null for no limit. */
  rateLimit: number | null;
  body: "data" | "envelope";
  /** Every event with seq <= cursorSeq has become a delivery or was not selected. */
  cursorSeq: number;
  /** Start of the current run of failed attempts, epoch ms; null while healthy. */
  failingSince: number | null;
  /** Higher first when subscriptions wait for the global cap on attempts in flight (handlers set it; default 0). */
  priority: number;
  createdAt: number;
  updatedAt: number;
}

/** The syntaxes a subscription's filter may be written in: CEL, or switch's Python expressions (translated to CEL). */
export type FilterSyntax = "cel" | "switch";

/** Fields of a subscription that can change after creation. */
export type SubscriptionPatch = Partial<
  Pick<
    Subscription,
    | "topic"
    | "url"
    | "filter"
    | "filterSyntax"
    | "filterSource"
    | "headers"
    | "secret"
    | "previousSecret"
    | "previousSecretUntil"
    | "active"
    | "disabledReason"
    | "ordering"
    | "retrySchedule"
    | "timeoutMs"
    | "maxInFlight"
    | "rateLimit"
    | "body"
    | "failingSince"
    | "priority"
  >
>;

export type DeliveryStatus = "pending" | "delivered" | "retrying" | "dead";

/** A delivery about to be made. */
export interface NewDelivery {
  id: string;
  subscriptionId: string;
  eventSeq: number;
  eventId: string;
  orderingKey: string | null;
  /** When to send it, epoch ms. */
  nextAttemptAt: number;
}

/** One event for one subscription. */
export interface Delivery extends NewDelivery {
  status: DeliveryStatus;
  /** Attempts in the current round (a manual retry starts a new one). */
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

/** One HTTP attempt of a delivery. */
export interface Attempt {
  deliveryId: string;
  attemptedAt: number;
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

/** An attempt together with the state it leaves its delivery in. */
export interface AttemptRecord extends Attempt {
  /** The delivery's subscription: the stores count the attempt in its rollups without looking it up. */
  subscriptionId: string;
  status: DeliveryStatus;
  attempts: number;
  /** For retrying deliveries, when to try again. */
  nextAttemptAt: number | null;
}

/** A search of deliveries, newest first. */
export interface DeliveryQuery {
  subscriptionId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  /** Created at or after, epoch ms. */
  fromTime?: number;
  /** Created before, epoch ms. */
  toTime?: number;
  /** Delivery ids sort by creation: return those before this one. */
  beforeId?: string;
  limit: number;
}

/** Which deliveries a manual retry takes. */
export type RetrySelection = { deliveryId: string } | { subscriptionId: string; fromTime?: number; toTime?: number };

/** An API key as stored: the token itself is never kept, only its hash. */
export interface ApiKey {
  /** `key_<ULID>`. */
  id: string;
  name: string | null;
  /** Hex SHA-256 of the token. */
  hash: string;
  /** The token's first 8 characters, for telling keys apart. */
  prefix: string;
  /** Scope strings such as `publish:orders.*` or `admin`. */
  scopes: string[];
  createdAt: number;
  /** When it was revoked, epoch ms, or null while active. */
  revokedAt: number | null;
}

/** Counts of what the store holds, for health and metrics. */
export interface StoreStats {
  events: number;
  topics: number;
}
