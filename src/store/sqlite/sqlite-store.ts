import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { HubError } from "../../errors.js";
import { runMigrations, type MigrateResult, type MigrationQuery } from "../migrate.js";
import type { SingleNodeStore, StoreStats } from "../store.js";
import { MIGRATIONS, PING } from "./sql/store.js";
import { SqliteDeliveries } from "./sqlite-deliveries.js";
import { SqliteEvents } from "./sqlite-events.js";
import { SqliteKeys } from "./sqlite-keys.js";
import { SqliteLeases } from "./sqlite-leases.js";
import { SqliteAggregates } from "./sqlite-aggregates.js";
import { SqliteRollups } from "./sqlite-rollups.js";
import { SqliteOutbox } from "./sqlite-outbox.js";
import type { SqliteState } from "./sqlite-state.js";
import { SqliteSubscriptions } from "./sqlite-subscriptions.js";
import { SqliteTopics } from "./sqlite-topics.js";
import { startWalCheckpointer, type WalCheckpointer } from "./wal-checkpointer.js";

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** `normal` survives a crash of the process (kill -9); `full` also survives power loss, at an fsync per commit. */
  synchronous?: "normal" | "full";
  /** The clock of receive-side times the store decides itself (topic creation by append, migration records). */
  now?: () => number;
  /** Write the rollups (stats) at commit; default true. */
  rollups?: boolean;
  /**
   * Run the WAL checkpoints on a worker thread (see wal-checkpointer.ts) instead of inside the writer's commits; the
   * hub turns it on. Default false (the CLI's short commands). Ignored for `:memory:`.
   */
  backgroundCheckpoints?: boolean;
}

/** The writer's own checkpoints run when the WAL reaches this many pages (4 KiB): without a background checkpointer. */
const INLINE_CHECKPOINT_PAGES = 4000;
/**
 * With a background checkpointer, the writer checkpoints only past this (64 MiB): a backstop should the worker fall
 * behind, never reached while it keeps up.
 */
const BACKSTOP_CHECKPOINT_PAGES = 16_000;

/** Opens (creating if needed) a SQLite store in WAL mode. Call `migrate()` before use. */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  // Checkpoint more rarely than the default 1000 pages: fewer stalls under sustained ingest.
  db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
  db.pragma("cache_size = -65536");
  const store = new SqliteStore(db, options.now, options.rollups);
  if (options.backgroundCheckpoints && options.path !== ":memory:") store.checkpointInBackground();
  return store;
}

/** The embedded store. One process owns the file; seq is assigned in memory and written in the same commit. */
export class SqliteStore implements SingleNodeStore {
  readonly dialect = "sqlite" as const;
  readonly mode = "single-node" as const;
  readonly events: SqliteEvents;
  readonly topics: SqliteTopics;
  readonly subscriptions: SqliteSubscriptions;
  readonly deliveries: SqliteDeliveries;
  readonly keys: SqliteKeys;
  readonly leases: SqliteLeases;
  readonly rollups: SqliteRollups;
  readonly aggregates: SqliteAggregates;
  readonly outbox: SqliteOutbox;
  /** The file's path (`:memory:` for none): an application's own connection must open the same one. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly state: SqliteState;
  private ping_: Database.Statement | undefined;
  private closed = false;
  private checkpointer_: WalCheckpointer | undefined;

  constructor(db: Database.Database, now: () => number = Date.now, rollups = true) {
    this.db = db;
    this.state = { db, nextSeq: 1, knownTopics: new Set(), now };
    this.rollups = new SqliteRollups(db, rollups);
    this.aggregates = new SqliteAggregates(this.state);
    this.events = new SqliteEvents(this.state, this.rollups, this.aggregates);
    this.topics = new SqliteTopics(this.state);
    this.subscriptions = new SqliteSubscriptions(db);
    this.deliveries = new SqliteDeliveries(db, this.rollups);
    this.keys = new SqliteKeys(db);
    this.leases = new SqliteLeases(db);
    this.outbox = new SqliteOutbox(db);
    this.path = db.name;
  }

  /** Applies pending migrations (each in an IMMEDIATE transaction), then prepares every part's statements. */
  async migrate(): Promise<MigrateResult> {
    const db = this.db;
    const run: MigrationQuery = async (sql, params) => {
      if (params === undefined && !/^\s*SELECT/i.test(sql)) {
        db.exec(sql);
        return [];
      }
      const stmt = db.prepare(sql);
      return stmt.reader ? (stmt.all(...(params ?? [])) as Array<Record<string, unknown>>) : (stmt.run(...(params ?? [])), []);
    };
    const result = await runMigrations(
      {
        dialect: "sqlite",
        statements: MIGRATIONS,
        transaction: async (fn) => {
          db.exec("BEGIN IMMEDIATE");
          try {
            const value = await fn(run);
            db.exec("COMMIT");
            return value;
          } catch (error) {
            if (db.inTransaction) db.exec("ROLLBACK");
            throw error;
          }
        },
      },
      this.state.now,
    );
    for (const part of [this.rollups, this.aggregates, this.events, this.topics, this.subscriptions, this.deliveries, this.keys, this.leases, this.outbox])
      part.init();
    this.ping_ = db.prepare(PING);
    return result;
  }

  async stats(): Promise<StoreStats> {
    return this.topics.counts();
  }

  async ping(): Promise<void> {
    if (this.closed) throw new HubError("SB_STORE_UNAVAILABLE", "the store is closed");
    this.ping_!.get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Its connection first: the last one to close checkpoints the rest and removes the WAL file.
    await this.checkpointer_?.stop();
    this.db.close();
  }

  /** The background checkpointer, while one runs (see {@link SqliteStoreOptions.backgroundCheckpoints}). */
  get checkpointer(): WalCheckpointer | undefined {
    return this.checkpointer_;
  }

  /** Hands the WAL checkpoints to a worker thread; should it fail, the writer checkpoints inline again. Idempotent. */
  checkpointInBackground(): void {
    if (this.checkpointer_ || this.closed || this.path === ":memory:") return;
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    // A WAL that grew in a burst (or while a reader held old pages) is cut back to this once it starts over.
    this.db.pragma(`journal_size_limit = ${BACKSTOP_CHECKPOINT_PAGES * 4096}`);
    this.checkpointer_ = startWalCheckpointer({
      path: this.path,
      onFailure: (error) => {
        this.checkpointer_ = undefined;
        if (this.closed) return;
        this.db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
        process.emitWarning(`SQLite background checkpoints stopped (${error.message}); the writer checkpoints inline again`);
      },
    });
  }
}
