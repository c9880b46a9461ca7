import { randomBytes } from "node:crypto";
import pg from "pg";
import { HubError } from "../../errors.js";
import { runMigrations, type MigrateResult } from "../migrate.js";
import type { ClusterPart, ClusterStore, CommitListener, StoreStats } from "../store.js";
import { PgAppender } from "./pg-append.js";
import { PgDeliveries } from "./pg-deliveries.js";
import { PgEvents } from "./pg-events.js";
import { PgKeys } from "./pg-keys.js";
import { PgLeases } from "./pg-leases.js";
import { PgAggregates } from "./pg-aggregates.js";
import { PgRollups } from "./pg-rollups.js";
import { PgOutbox } from "./pg-outbox.js";
import { DEFAULT_PARTITION_SIZE, PgPartitions } from "./pg-partitions.js";
import { PgSubscriptions } from "./pg-subscriptions.js";
import { PgTopics } from "./pg-topics.js";
import { inTransaction, PG_TYPES, pgContext, type PgContext } from "./pg-util.js";
import { LIVE_CHANNEL, SUBSCRIPTIONS_CHANNEL, TOPICS_CHANNEL, watchPgCommits } from "./pg-watcher.js";
import { MIGRATE_LOCK_SQL, MIGRATIONS, PING, STATS } from "./sql/store.js";

export { DEFAULT_PARTITION_SIZE } from "./pg-partitions.js";

/** Options of {@link openPgStore}. */
export interface PgStoreOptions {
  /** `postgres://user@host:port/database`. */
  url: string;
  /** Connections in the pool. */
  maxConnections?: number;
  /** Events (seq values) per partition of the event log. Default {@link DEFAULT_PARTITION_SIZE}. */
  partitionSize?: number;
  /** The clock of times the store decides itself (receive-side topic creation, migration records). */
  now?: () => number;
}

/** Opens a PostgreSQL store (a connection pool; nothing connects until first use). Call `migrate()` before use. */
export function openPgStore(options: PgStoreOptions): PgStore {
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10, types: PG_TYPES });
  // An idle connection that the server drops emits `error` on the pool; without a listener that would crash the
  // process. The pool discards that connection by itself and the next query opens a new one.
  pool.on("error", () => {});
  return new PgStore(pool, options.url, options.partitionSize, options.now);
}

/**
 * The PostgreSQL store: several Switchboard nodes may share one database. seq comes from a sequence; appends
 * serialize on an advisory lock so that seq order is commit order (see {@link PgAppender.append}).
 */
export class PgStore implements ClusterStore {
  readonly dialect = "postgres" as const;
  readonly mode = "cluster" as const;
  readonly events: PgEvents;
  readonly topics: PgTopics;
  readonly subscriptions: PgSubscriptions;
  readonly deliveries: PgDeliveries;
  readonly keys: PgKeys;
  readonly leases: PgLeases;
  readonly rollups: PgRollups;
  readonly aggregates: PgAggregates;
  readonly outbox: PgOutbox;
  readonly cluster: ClusterPart;
  /** The partitions of the event log; the bench creates them ahead of raw inserts. */
  readonly partitions: PgPartitions;
  private readonly ctx: PgContext;
  private closed = false;
  /** Connection string for the LISTEN connection of watchCommits; without it the store cannot watch. */
  private readonly url: string | undefined;
  /** Tells this store's own subscription announcements apart from other nodes'. */
  private readonly nodeId = randomBytes(8).toString("hex");
  private readonly watchers = new Set<() => Promise<void>>();

  constructor(pool: pg.Pool, url?: string, partitionSize = DEFAULT_PARTITION_SIZE, now: () => number = Date.now) {
    this.url = url;
    this.ctx = pgContext(pool, now);
    this.partitions = new PgPartitions(this.ctx, partitionSize);
    this.aggregates = new PgAggregates(this.ctx);
    this.events = new PgEvents(this.ctx, new PgAppender(this.ctx, this.partitions, this.aggregates), this.partitions);
    this.topics = new PgTopics(this.ctx);
    this.subscriptions = new PgSubscriptions(this.ctx);
    this.deliveries = new PgDeliveries(this.ctx);
    this.keys = new PgKeys(this.ctx);
    this.leases = new PgLeases(this.ctx);
    this.rollups = new PgRollups(this.ctx);
    this.outbox = new PgOutbox(this.ctx);
    this.cluster = {
      watchCommits: (listener) => this.watchCommits(listener),
      announceSubscriptionChange: async (id) => {
        await this.ctx.query(`SELECT pg_notify('${SUBSCRIPTIONS_CHANNEL}', $1)`, [`${this.nodeId} ${id}`]);
      },
      announceTopicChange: async (name) => {
        await this.ctx.query(`SELECT pg_notify('${TOPICS_CHANNEL}', $1)`, [`${this.nodeId} ${name}`]);
      },
      // One statement for the whole request: its notifications are delivered together, in order, at its commit.
      announceLive: async (payloads) => {
        await this.ctx.query(`SELECT pg_notify('${LIVE_CHANNEL}', $1 || p) FROM unnest($2::text[]) AS p`, [`${this.nodeId} `, payloads]);
      },
      // NOTIFY's payload must be shorter than 8000 bytes, and carries `<node id> ` first.
      maxLivePayloadBytes: 7999 - (this.nodeId.length + 1),
    };
  }

  /**
   * LISTENs for commits of every node on a dedicated connection: appends NOTIFY their last seq inside the
   * transaction, which PostgreSQL delivers at commit, in commit order. Outbox inserts NOTIFY too (a trigger).
   */
  private async watchCommits(listener: CommitListener): Promise<() => Promise<void>> {
    if (this.url === undefined) throw new Error("this PgStore was built without a URL, so it cannot LISTEN");
    if (this.closed) throw new HubError("SB_STORE_UNAVAILABLE", "the store is closed");
    const stop = await this.ctx.wrap(
      watchPgCommits({
        url: this.url,
        nodeId: this.nodeId,
        listener,
        lastSeq: () => this.events.lastSeq(),
        onError: (error) => listener.onConnectionError?.(error),
        types: PG_TYPES,
      }),
    );
    let stopped: Promise<void> | undefined;
    const unwatch = () => {
      stopped ??= stop().finally(() => this.watchers.delete(unwatch));
      return stopped;
    };
    this.watchers.add(unwatch);
    return unwatch;
  }

  /**
   * Each migration runs in its own transaction holding a transaction-level advisory lock; the version is read
   * again under the lock, so nodes starting at once apply each migration exactly once.
   */
  async migrate(): Promise<MigrateResult> {
    const result = await runMigrations(
      {
        dialect: "postgres",
        statements: MIGRATIONS,
        transaction: (fn) =>
          inTransaction(this.ctx.pool, async (client) => {
            await client.query(MIGRATE_LOCK_SQL);
            return fn(async (sql, params) => (await client.query(sql, params)).rows);
          }),
      },
      this.ctx.now,
    );
    await this.partitions.ensure();
    return result;
  }

  /** See {@link PgPartitions.ensure}. */
  async ensureEventPartitions(uptoSeq = 0): Promise<void> {
    return this.partitions.ensure(uptoSeq);
  }

  async stats(): Promise<StoreStats> {
    const { rows } = await this.ctx.query<StoreStats>(STATS);
    return { events: rows[0]!.events, topics: rows[0]!.topics };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new HubError("SB_STORE_UNAVAILABLE", "the store is closed");
    await this.ctx.query(PING);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watchers].map((unwatch) => unwatch()));
    await this.ctx.pool.end();
  }
}
