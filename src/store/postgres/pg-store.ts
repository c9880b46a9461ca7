import { randomBytes } from "node:crypto";
import pg from "pg";
import { HubError } from "../../errors.js";
import { runMigrations, type MigrateResult } from "../migrate.js";
import type { ClusterPart, ClusterStore, CommitListener, StoreStats } from "../store.js";
import { DEFAULT_COMMIT_TIMEOUT_MS, PgAppender } from "./pg-append.js";
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

/** The first schema of `-c search_path=…` in a url's `options` parameter, if any. */
export function searchPathSchemaOf(url: string): string | undefined {
  let options: string | null;
  try {
    options = new URL(url).searchParams.get("options");
  } catch {
    return undefined;
  }
  const m = /(?:^|\s)-c\s*search_path=([^,\s]+)/.exec(options ?? "");
  const name = m?.[1];
  if (name === undefined) return undefined;
  // As PostgreSQL reads the setting: a quoted name as it is, an unquoted one folded to lower case.
  return /^".*"$/.test(name) ? name.slice(1, -1) : name.toLowerCase();
}

export { DEFAULT_PARTITION_SIZE } from "./pg-partitions.js";

/** Options of {@link openPgStore}. */
export interface PgStoreOptions {
  /** `postgres://user@host:port/database`. */
  url: string;
  /** Connections in the pool. */
  maxConnections?: number;
  /** How long opening a connection may take before it fails (ms). Default 3 000. */
  connectTimeoutMs?: number;
  /**
   * How long one append (group commit) and one ping may take before their connection is cut and they fail with a 503
   * (ms): a database that stopped answering must not hold publishes past the request timeout. Default 5 000.
   */
  commitTimeoutMs?: number;
  /** Events (seq values) per partition of the event log. Default {@link DEFAULT_PARTITION_SIZE}. */
  partitionSize?: number;
  /** The clock of times the store decides itself (receive-side topic creation, migration records). */
  now?: () => number;
  /** Write the rollups (stats) at commit; default true. */
  rollups?: boolean;
}

/** Opens a PostgreSQL store (a connection pool; nothing connects until first use). Call `migrate()` before use. */
export function openPgStore(options: PgStoreOptions): PgStore {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    types: PG_TYPES,
    // A server that accepts connections but does not answer (a network partition, a failover in progress) fails
    // the request as 503 instead of holding it past the request timeout.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
  });
  // An idle connection that the server drops emits `error` on the pool; without a listener that would crash the
  // process. The pool discards that connection by itself and the next query opens a new one.
  pool.on("error", () => {});
  // A connection checked out of the pool has no such listener: when its backend is terminated, or the server goes
  // away, between two queries of a transaction, `error` would crash the process. The query in flight fails on its
  // own, and the pool drops a connection that is no longer queryable when it is released.
  pool.on("connect", (client) => client.on("error", () => {}));
  return new PgStore(pool, options.url, options.partitionSize, options.now, options.commitTimeoutMs, options.rollups);
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

  /** The deadline of appends and pings; see {@link PgStoreOptions.commitTimeoutMs}. */
  private readonly commitTimeoutMs: number;

  constructor(
    pool: pg.Pool,
    url?: string,
    partitionSize = DEFAULT_PARTITION_SIZE,
    now: () => number = Date.now,
    commitTimeoutMs = DEFAULT_COMMIT_TIMEOUT_MS,
    rollups = true,
  ) {
    this.url = url;
    this.commitTimeoutMs = commitTimeoutMs;
    this.ctx = pgContext(pool, now, rollups);
    this.partitions = new PgPartitions(this.ctx, partitionSize);
    this.aggregates = new PgAggregates(this.ctx);
    this.events = new PgEvents(this.ctx, new PgAppender(this.ctx, this.partitions, this.aggregates, commitTimeoutMs), this.partitions);
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
    await this.ensureSchema();
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

  /**
   * Creates the schema the connection's `search_path` names (Simple Event Handler's `DB_SCHEMA`, passed as the url's
   * `options=-c search_path=…`) when it does not exist yet: without it, tables would have nowhere to go.
   */
  private async ensureSchema(): Promise<void> {
    const { rows } = await this.ctx.query<{ schema: string | null }>("SELECT current_schema() AS schema");
    if (rows[0]?.schema) return;
    const schema = this.url === undefined ? undefined : searchPathSchemaOf(this.url);
    if (schema === undefined) throw new HubError("SB_STORE_UNAVAILABLE", "no schema of the search_path exists; create it or set another");
    await this.ctx.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replaceAll('"', '""')}"`);
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
    // Bounded like an append: /ready must answer while the database does not (pg drops a timed-out connection).
    // (`query_timeout` per query is pg's, missing from its types.)
    await this.ctx.wrap(this.ctx.pool.query({ text: PING, query_timeout: this.commitTimeoutMs } as pg.QueryConfig));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watchers].map((unwatch) => unwatch()));
    await this.ctx.pool.end();
  }
}
