/**
 * The store's interface, in parts: what each part does and the requests it takes. The records it stores (events,
 * topics, subscriptions, deliveries, attempts, API keys) and the glossary are in `types.ts`, re-exported here.
 */
import type {
  ApiKey,
  AppendOutcome,
  AppendRequest,
  Attempt,
  AttemptRecord,
  Delivery,
  DeliveryQuery,
  EventQuery,
  NewDelivery,
  OutboxEntry,
  RetrySelection,
  StoreStats,
  StoredEvent,
  Subscription,
  SubscriptionPatch,
  Topic,
  TopicInput,
  TopicPatch,
} from "./types.js";
import type { EventAggregateQuery, EventAggregateRow } from "./aggregate-sql.js";
import type { RollupsPart } from "./rollups.js";
import type { AggregatesPart } from "./continuous-aggregates.js";

export type * from "./types.js";
export type * from "./rollups.js";
export type * from "./continuous-aggregates.js";
export type { EventAggregateQuery, EventAggregateRow } from "./aggregate-sql.js";

/** What {@link ClusterPart.watchCommits} reports: commits and subscription changes made by other nodes. */
export interface CommitListener {
  /** Events up to `lastSeq` are committed (this node's own commits are announced too). */
  onCommit(lastSeq: number): void;
  /**
   * Another node created, changed or deleted the subscription `id`, or added deliveries to it; `undefined` when
   * announcements may have been missed (the listening connection was lost) and any subscription may have changed.
   */
  onSubscriptionChange?(id: string | undefined): void;
  /** Rows were committed to the outbox (or announcements may have been missed after a reconnect). */
  onOutbox?(): void;
  /** Another node announced events of a live-only topic ({@link ClusterPart.announceLive}); one payload each. */
  onLive?(payload: string): void;
  /**
   * Another node created, changed or deleted the topic `name`; `undefined` when announcements may have been missed
   * and any topic may have changed.
   */
  onTopicChange?(name: string | undefined): void;
  /** The listening connection was lost, or a reconnect failed; the store keeps retrying with backoff. */
  onConnectionError?(error: Error): void;
}

/** Retention: the topic's events received before `receivedBefore` (epoch ms), at most `limit` of them. */
export interface DeleteEventsRequest {
  topic: string;
  receivedBefore: number;
  limit: number;
}

/** New pending deliveries of one subscription and, optionally, its new cursor, stored together. */
export interface AddDeliveriesRequest {
  subscriptionId: string;
  deliveries: NewDelivery[];
  /** Moves the subscription's cursor (never back) in the same transaction. */
  cursorSeq?: number;
  now: number;
}

/** Moves a subscription's cursor forward (never back) without adding deliveries. */
export interface AdvanceCursorRequest {
  subscriptionId: string;
  cursorSeq: number;
  now: number;
}

/**
 * A page of a subscription's open deliveries in log order (`event_seq`, then id): after `afterSeq`, or with
 * `afterId` after the delivery (`afterSeq`, `afterId`), so pages do not skip deliveries sharing an event.
 */
export interface OpenDeliveriesQuery {
  subscriptionId: string;
  afterSeq: number;
  afterId?: string;
  limit: number;
}

/** Removes up to `limit` attempts made before `before` (epoch ms). */
export interface PruneAttemptsRequest {
  before: number;
  limit: number;
}

/** See {@link DeliveriesPart.claimRetries}. */
export interface ClaimRetriesRequest {
  nodeId: string;
  deliveryIds: string[];
  now: number;
  /** A claim lasts the subscription's timeout plus this. */
  marginMs: number;
}

/** See {@link DeliveriesPart.releaseClaims}. */
export interface ReleaseClaimsRequest {
  nodeId: string;
  deliveryIds: string[];
}

/** See {@link DeliveriesPart.claimDueRetries}. */
export interface ClaimDueRetriesRequest {
  nodeId: string;
  /** Retries due at this time or earlier. */
  dueBefore: number;
  now: number;
  /** A claim lasts the subscription's timeout plus this. */
  marginMs: number;
  limit: number;
  /** Subscriptions whose lease expires before this have a holder that stopped renewing it. */
  leaseStaleBefore: number;
}

/** See {@link LeasesPart.acquire}. */
export interface AcquireLeasesRequest {
  nodeId: string;
  subscriptionIds: string[];
  ttlMs: number;
  now: number;
}

/** See {@link LeasesPart.release}. */
export interface ReleaseLeasesRequest {
  nodeId: string;
  subscriptionIds: string[];
}

/** See {@link LeasesPart.heartbeat}. */
export interface HeartbeatRequest {
  nodeId: string;
  now: number;
  ttlMs: number;
}

/** The event log. */
export interface EventsPart {
  /**
   * Stores several requests in one transaction. Each request is all or nothing: one request's failure
   * does not fail the others. Resolves only after the transaction is durable.
   */
  append(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  get(id: string): Promise<StoredEvent | undefined>;
  /** Events with seq > afterSeq, in seq order, at most `limit`. */
  readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** The highest seq stored, 0 when empty. */
  lastSeq(): Promise<number>;
  /** The lowest seq stored, or undefined when empty. */
  firstSeq(): Promise<number | undefined>;
  /** The highest seq of the events received before `ms` (0 when none): the cursor of a subscription starting then. */
  seqBefore(ms: number): Promise<number>;
  /** Searches by the indexed fields, ordered by (time, seq). */
  search(query: EventQuery): Promise<StoredEvent[]>;
  /**
   * Aggregates the data of the events the query selects, in SQL, per bucket and group (in that order). Percentiles
   * only where {@link aggregatesPercentiles} is true (PostgreSQL); elsewhere the caller reads the events instead.
   */
  aggregate(query: EventAggregateQuery): Promise<EventAggregateRow[]>;
  /** Whether {@link aggregate} computes percentiles. */
  readonly aggregatesPercentiles: boolean;
  /**
   * Retention: removes up to `limit` of the topic's oldest events (by receive time) received before
   * `receivedBefore`, in one short transaction, and lowers the topic's `eventCount` by as many. The highest seq
   * given out stays recorded, so a seq is never handed out twice. Returns how many were removed; callers repeat
   * while it equals `limit`.
   */
  deleteBefore(request: DeleteEventsRequest): Promise<number>;
  /**
   * Only where the event log is partitioned (PostgreSQL): removes whole partitions in which every event was received
   * before its topic's cutoff (`cutoffFor` returns undefined for topics kept forever). Returns the events removed per
   * topic. Retention calls it before deleting rows, so at high volume most expired events go a partition at a time.
   */
  dropExpiredPartitions?(cutoffFor: (topic: string) => number | undefined): Promise<Record<string, number>>;
}

/** Topics and their counters. */
export interface TopicsPart {
  create(input: TopicInput, now: number): Promise<Topic>;
  get(name: string): Promise<Topic | undefined>;
  list(): Promise<Topic[]>;
  update(name: string, patch: TopicPatch, now: number): Promise<Topic | undefined>;
  /** Deletes a topic and its events; false when it did not exist. */
  delete(name: string): Promise<boolean>;
}

/** Webhook subscriptions. */
export interface SubscriptionsPart {
  create(subscription: Subscription): Promise<void>;
  get(id: string): Promise<Subscription | undefined>;
  list(): Promise<Subscription[]>;
  /** The subscription with exactly this topic and URL, if any (Postoffice's publishers are unique by both). */
  find(topic: string, url: string): Promise<Subscription | undefined>;
  update(id: string, patch: SubscriptionPatch, now: number): Promise<Subscription | undefined>;
  /** Deletes a subscription with its deliveries and attempts; false when it did not exist. */
  delete(id: string): Promise<boolean>;
}

/** Deliveries, their attempts, and each subscription's cursor in the log. */
export interface DeliveriesPart {
  /** Stores new pending deliveries and, in the same transaction, moves the subscription's cursor (if given). */
  add(request: AddDeliveriesRequest): Promise<void>;
  /**
   * {@link add} for several requests (of different subscriptions) in one transaction, all or nothing: the group commit
   * of the pages the workers woken by one commit admit.
   */
  addAll(requests: AddDeliveriesRequest[]): Promise<void>;
  /** Moves the subscription's cursor: every event up to it has become a delivery or was not selected. */
  advanceCursor(request: AdvanceCursorRequest): Promise<void>;
  /** Records attempts and the states they leave their deliveries in, in one transaction. */
  recordAttempts(records: AttemptRecord[]): Promise<void>;
  /** Pending and retrying deliveries of a subscription, in log order (see {@link OpenDeliveriesQuery}). */
  listOpen(query: OpenDeliveriesQuery): Promise<Delivery[]>;
  get(id: string): Promise<Delivery | undefined>;
  search(query: DeliveryQuery): Promise<Delivery[]>;
  listAttempts(deliveryId: string): Promise<Attempt[]>;
  /** Puts dead deliveries (or the one named, whatever its state) back to pending for a new round; returns them. */
  retry(selection: RetrySelection, now: number): Promise<Delivery[]>;
  /** Removes up to `limit` attempts made before `before`; returns how many. */
  pruneAttempts(request: PruneAttemptsRequest): Promise<number>;
  /**
   * Claims retries that `nodeId` is about to send, so that no other node sends the same attempt: of `deliveryIds`,
   * those still open (retrying, or pending when recording the failed attempt failed), due (`next_attempt_at <= now`)
   * and not claimed, or with an expired claim (not even `nodeId`'s own: its retry sweep may be sending it). A claim
   * lasts the subscription's timeout plus `marginMs`; recording an attempt ends it. Returns the ids now claimed by
   * `nodeId`.
   */
  claimRetries(request: ClaimRetriesRequest): Promise<string[]>;
  /**
   * Ends `nodeId`'s claims on `deliveryIds` (a node that stops before sending retries it claimed), so that another node
   * may send them at once instead of when the claims expire. Claims of other nodes are left as they are.
   */
  releaseClaims(request: ReleaseClaimsRequest): Promise<void>;
  /**
   * Claims up to `limit` retrying deliveries due at `dueBefore` or earlier, oldest due first, unclaimed or with an
   * expired claim (see {@link claimRetries}), of active subscriptions that do not order by key and whose lease, if
   * any, expires before `leaseStaleBefore` (its holder has stopped renewing it: a live holder keeps its retries, within
   * its `max_in_flight`). Callers at the same time get disjoint sets (`FOR UPDATE SKIP LOCKED` on PostgreSQL): this is
   * how any free node takes over the retries of a node that died, before its leases expire.
   */
  claimDueRetries(request: ClaimDueRetriesRequest): Promise<Delivery[]>;
}

/**
 * The transactional outbox: applications insert rows in their own transactions (with the SQL of `outbox-sql.ts`);
 * the relay reads them here and appends each with {@link AppendRequest.outboxId}, which deletes it.
 */
export interface OutboxPart {
  /** The oldest `limit` rows, in id order (the order of their inserts). */
  pending(limit: number): Promise<OutboxEntry[]>;
  /** Deletes a row whose event can never be stored (its topic refuses it); false when it was gone already. */
  discard(id: string): Promise<boolean>;
}

/** API keys (hashes only). */
export interface KeysPart {
  create(key: ApiKey): Promise<void>;
  /** The key with this token hash, revoked or not. */
  findByHash(hash: string): Promise<ApiKey | undefined>;
  /** Every key, oldest first. */
  list(): Promise<ApiKey[]>;
  /** Marks a key revoked (keeping the first revocation time); returns it, or undefined when there is none. */
  revoke(id: string, now: number): Promise<ApiKey | undefined>;
  /** Keys not revoked. */
  countActive(): Promise<number>;
  /**
   * A number that changes whenever the keys may have changed, through this store or any other connection to its
   * database (another process's `switchboard keys revoke`), read without a round trip. The authenticator keeps the
   * keys it verified while it stays the same. Absent when the store cannot tell cheaply (PostgreSQL: other nodes), and
   * then every request looks its key up.
   */
  changeStamp?(): number;
}

/**
 * Subscription leases and the delivering nodes' heartbeats. Every store has them: one process owns a SQLite file, so
 * its one node normally holds every lease, under the same rules as PostgreSQL's.
 */
export interface LeasesPart {
  /**
   * Claims, in one statement (or transaction), each of `subscriptionIds` whose lease is absent, expired
   * (`expires_at <= now`) or already held by `nodeId` (renewed), until `now + ttlMs`. Returns the ids of the list that
   * `nodeId` now holds. Several delivering nodes sharing a database each dispatch only the subscriptions they hold.
   */
  acquire(request: AcquireLeasesRequest): Promise<string[]>;
  /** Gives up the leases `nodeId` holds on `subscriptionIds` (those held by other nodes are left alone). */
  release(request: ReleaseLeasesRequest): Promise<void>;
  /**
   * Records that delivering node `nodeId` is alive at `now`, and returns how many delivering nodes (this one
   * included) were seen since `now - ttlMs`: each takes about its share of the subscriptions.
   */
  heartbeat(request: HeartbeatRequest): Promise<number>;
  /** Forgets a delivering node that stops, so that the others take its share at once. */
  removeNode(nodeId: string): Promise<void>;
}

/** What only a store several nodes share (PostgreSQL) has: news of the other nodes' commits and changes. */
export interface ClusterPart {
  /**
   * Calls `listener` as commits by any node sharing the database become visible, in commit order; after a lost
   * connection is re-established, once with the current last seq. Resolves when listening; returns the function
   * that stops it.
   */
  watchCommits(listener: CommitListener): Promise<() => Promise<void>>;
  /** Tells the other nodes' {@link CommitListener.onSubscriptionChange} that `id` changed. */
  announceSubscriptionChange(id: string): Promise<void>;
  /** Tells the other nodes' {@link CommitListener.onTopicChange} that the topic `name` changed. */
  announceTopicChange(name: string): Promise<void>;
  /**
   * Hands each payload (an event of a live-only topic) to the other nodes' {@link CommitListener.onLive}, in order;
   * nothing is stored. Each must be at most {@link maxLivePayloadBytes} bytes of UTF-8.
   */
  announceLive(payloads: string[]): Promise<void>;
  /** The largest payload {@link announceLive} carries (PostgreSQL's NOTIFY takes less than 8000 bytes). */
  readonly maxLivePayloadBytes: number;
}

/**
 * How many processes may use the store: `single-node` (SQLite: one process owns the file, so nothing else commits
 * behind its back) or `cluster` (PostgreSQL: several nodes share the database, and {@link Store.cluster} is there).
 */
export type StoreMode = "single-node" | "cluster";

/** What every store has, whatever its mode. */
export interface StoreParts {
  readonly dialect: "sqlite" | "postgres";
  readonly events: EventsPart;
  readonly topics: TopicsPart;
  readonly subscriptions: SubscriptionsPart;
  readonly deliveries: DeliveriesPart;
  readonly keys: KeysPart;
  readonly leases: LeasesPart;
  /** Counts per minute, hour and day (see docs/aggregation.md). */
  readonly rollups: RollupsPart;
  /** Continuous aggregates, maintained at commit (see docs/aggregation.md). */
  readonly aggregates: AggregatesPart;
  readonly outbox: OutboxPart;

  /** Runs pending migrations; refuses a database whose schema is newer than this code. */
  migrate(): Promise<{ applied: string[]; version: number }>;
  stats(): Promise<StoreStats>;
  /** A cheap round trip, for `/health`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A store one process owns (SQLite). */
export interface SingleNodeStore extends StoreParts {
  readonly mode: "single-node";
  /** The SQLite file (`:memory:` for none): the outbox takes only an application connection to the same file. */
  readonly path?: string;
  readonly cluster?: undefined;
}

/** A store several nodes share (PostgreSQL). */
export interface ClusterStore extends StoreParts {
  readonly mode: "cluster";
  readonly cluster: ClusterPart;
}

/**
 * The one storage interface, in parts: `events`, `topics`, `subscriptions`, `deliveries`, `keys`, `leases`, and
 * `cluster` only in `cluster` mode. SQLite and PostgreSQL implement it; the same conformance suite runs against
 * both. Methods are async even where SQLite answers synchronously, so callers are written once.
 */
export type Store = SingleNodeStore | ClusterStore;
