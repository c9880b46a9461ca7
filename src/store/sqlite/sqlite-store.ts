import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { HubError } from "../../errors.js";
import { loadMigrations } from "../migrate.js";
import { checkRepeatedId, checkRepeatedKey, idempotencyScope, type PriorEvent } from "../repeats.js";
import { SqliteDeliveries } from "./sqlite-deliveries.js";
import type {
  ApiKey,
  Attempt,
  AttemptRecord,
  Delivery,
  DeliveryQuery,
  NewDelivery,
  RetrySelection,
  Subscription,
  SubscriptionPatch,
  AppendOutcome,
  AppendRequest,
  AppendResult,
  EventQuery,
  Store,
  StoreStats,
  StoredEvent,
  Topic,
  TopicInput,
  TopicPatch,
} from "../store.js";

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** `normal` survives a crash of the process (kill -9); `full` also survives power loss, at an fsync per commit. */
  synchronous?: "normal" | "full";
}

interface EventRow {
  seq: number;
  id: string;
  topic: string;
  type: string | null;
  source: string | null;
  subject: string | null;
  time: number;
  key: string | null;
  data: string;
  attributes: string | null;
  received_at: number;
}

interface TopicRow {
  name: string;
  description: string | null;
  schema: string | null;
  origin_host: string | null;
  created_at: number;
  updated_at: number;
  event_count: number;
  last_event_at: number | null;
  retention_ms: number | null;
}

interface ApiKeyRow {
  id: string;
  name: string | null;
  hash: string;
  prefix: string;
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

const EMPTY_ATTRIBUTES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function toEvent(row: EventRow): StoredEvent {
  return {
    seq: row.seq,
    id: row.id,
    clientId: false,
    topic: row.topic,
    type: row.type,
    source: row.source,
    subject: row.subject,
    time: row.time,
    key: row.key,
    dataJson: row.data,
    data: JSON.parse(row.data),
    attributes: row.attributes ? (JSON.parse(row.attributes) as Record<string, string>) : EMPTY_ATTRIBUTES,
    receivedAt: row.received_at,
  };
}

function toTopic(row: TopicRow): Topic {
  return {
    name: row.name,
    description: row.description,
    schema: row.schema === null ? null : JSON.parse(row.schema),
    originHost: row.origin_host,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    eventCount: row.event_count,
    lastEventAt: row.last_event_at,
    retentionMs: row.retention_ms,
  };
}

/** Opens (creating if needed) a SQLite store in WAL mode. Call `migrate()` before use. */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  // Checkpoint more rarely than the default 1000 pages: fewer stalls under sustained ingest.
  db.pragma("wal_autocheckpoint = 4000");
  db.pragma("cache_size = -65536");
  return new SqliteStore(db);
}

/** The embedded store. One process owns the file; seq is assigned in memory and written in the same commit. */
export class SqliteStore implements Store {
  readonly dialect = "sqlite" as const;
  private readonly db: Database.Database;
  private nextSeq = 1;
  private readonly knownTopics = new Set<string>();
  private readonly searchStatements = new Map<string, Database.Statement>();
  private stmts!: ReturnType<SqliteStore["prepare"]>;
  private deliveries!: SqliteDeliveries;
  private closed = false;

  constructor(db: Database.Database) {
    this.db = db;
  }

  private prepare() {
    const db = this.db;
    return {
      insertEvent: db.prepare(
        `INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at, publisher)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      ),
      eventById: db.prepare(`SELECT * FROM events WHERE id = ?`),
      seqById: db.prepare(`SELECT seq FROM events WHERE id = ?`),
      priorById: db.prepare(`SELECT seq, topic, source, publisher FROM events WHERE id = ?`),
      eventsAfter: db.prepare(`SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?`),
      lastSeq: db.prepare(`SELECT max((SELECT coalesce(max(seq), 0) FROM events), (SELECT last_seq FROM store_state)) AS seq`),
      saveLastSeq: db.prepare(`UPDATE store_state SET last_seq = ? WHERE id = 1`),
      firstSeq: db.prepare(`SELECT min(seq) AS seq FROM events`),
      ensureTopic: db.prepare(
        `INSERT INTO topics (name, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
      ),
      bumpTopic: db.prepare(
        `UPDATE topics SET event_count = event_count + ?, last_event_at = max(coalesce(last_event_at, 0), ?) WHERE name = ?`,
      ),
      idempotencyGet: db.prepare(`SELECT results FROM idempotency_keys WHERE publisher = ? AND key = ?`),
      idempotencyPut: db.prepare(`INSERT INTO idempotency_keys (publisher, key, results, created_at) VALUES (?, ?, ?, ?)`),
      topicGet: db.prepare(`SELECT * FROM topics WHERE name = ?`),
      topicList: db.prepare(`SELECT * FROM topics ORDER BY name`),
      topicInsert: db.prepare(
        `INSERT INTO topics (name, description, schema, origin_host, retention_ms, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      topicDelete: db.prepare(`DELETE FROM topics WHERE name = ?`),
      topicEventsDelete: db.prepare(`DELETE FROM events WHERE topic = ?`),
      oldEventsDelete: db.prepare(
        `DELETE FROM events WHERE seq IN
           (SELECT seq FROM events WHERE topic = ? AND received_at < ? ORDER BY received_at, seq LIMIT ?)`,
      ),
      dropTopicCount: db.prepare(`UPDATE topics SET event_count = max(event_count - ?, 0) WHERE name = ?`),
      countEvents: db.prepare(`SELECT coalesce(sum(event_count), 0) AS events, count(*) AS topics FROM topics`),
      ping: db.prepare(`SELECT 1`),
      apiKeyInsert: db.prepare(
        `INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      apiKeyByHash: db.prepare(`SELECT * FROM api_keys WHERE hash = ?`),
      apiKeyById: db.prepare(`SELECT * FROM api_keys WHERE id = ?`),
      apiKeyList: db.prepare(`SELECT * FROM api_keys ORDER BY id`),
      apiKeyRevoke: db.prepare(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`),
      apiKeyCountActive: db.prepare(`SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`),
    };
  }

  async migrate(): Promise<{ applied: string[]; version: number }> {
    const db = this.db;
    db.exec(`CREATE TABLE IF NOT EXISTS switchboard_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const migrations = loadMigrations("sqlite");
    const applied: string[] = [];
    const current = (db.prepare(`SELECT coalesce(max(version), 0) AS v FROM switchboard_migrations`).get() as { v: number }).v;
    const latest = migrations.length;
    if (current > latest) {
      throw new Error(
        `the database is at schema version ${current}, newer than this Switchboard knows (${latest}); upgrade Switchboard`,
      );
    }
    for (const m of migrations.slice(current)) {
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare(`INSERT INTO switchboard_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(m.version, m.name, Date.now());
      }).immediate();
      applied.push(`${String(m.version).padStart(4, "0")}_${m.name}`);
    }
    this.stmts = this.prepare();
    this.deliveries = new SqliteDeliveries(db);
    this.nextSeq = (this.stmts.lastSeq.get() as { seq: number }).seq + 1;
    for (const row of this.db.prepare(`SELECT name FROM topics`).all() as { name: string }[]) this.knownTopics.add(row.name);
    return { applied, version: latest };
  }

  async appendEvents(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    const now = Date.now();
    const startSeq = this.nextSeq;
    const newTopics: string[] = [];
    const run = this.db.transaction(() => {
      const outcomes: AppendOutcome[] = [];
      const topicBumps = new Map<string, { count: number; last: number }>();
      for (const request of requests) {
        const requestStartSeq = this.nextSeq;
        const newTopicsMark = newTopics.length;
        try {
          // A request that writes one row needs no savepoint: it fails before writing or not at all. Others get
          // one (a nested transaction), so each request stands or falls alone.
          const singleWrite = request.events.length === 1 && request.idempotencyKey === undefined;
          outcomes.push(
            singleWrite
              ? this.appendOne(request, now, topicBumps, newTopics)
              : this.db.transaction(() => this.appendOne(request, now, topicBumps, newTopics))(),
          );
        } catch (error) {
          this.nextSeq = requestStartSeq;
          newTopics.length = newTopicsMark;
          outcomes.push({ ok: false, error: error as Error });
        }
      }
      for (const [topic, bump] of topicBumps) this.stmts.bumpTopic.run(bump.count, bump.last, topic);
      if (this.nextSeq !== startSeq) this.stmts.saveLastSeq.run(this.nextSeq - 1);
      return outcomes;
    });
    try {
      const outcomes = run.immediate();
      for (const t of newTopics) this.knownTopics.add(t);
      return outcomes;
    } catch (error) {
      this.nextSeq = startSeq;
      throw error;
    }
  }

  private appendOne(
    request: AppendRequest,
    now: number,
    topicBumps: Map<string, { count: number; last: number }>,
    newTopics: string[],
  ): AppendOutcome {
    const s = this.stmts;
    const { publisher } = request;
    if (request.idempotencyKey !== undefined) {
      const prior = s.idempotencyGet.get(idempotencyScope(publisher), request.idempotencyKey) as { results: string } | undefined;
      if (prior) {
        const results = JSON.parse(prior.results) as AppendResult[];
        checkRepeatedKey(results, request.events, publisher);
        return { ok: true, results, stored: [], replayed: true };
      }
    }
    const results: AppendResult[] = [];
    const stored: StoredEvent[] = [];
    // This request's topic counts, folded into the batch's only once the request is certain to commit.
    let bumpTopic: string | undefined;
    let bumpCount = 0;
    let bumpLast = 0;
    let otherBumps: Map<string, { count: number; last: number }> | undefined;
    for (const e of request.events) {
      const unknownTopic = !this.knownTopics.has(e.topic) && !newTopics.includes(e.topic);
      if (unknownTopic && !request.createTopics && !s.topicGet.get(e.topic)) {
        // The caller checked; the topic vanished since. Fail this request only.
        throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(e.topic)} does not exist`);
      }
      const seq = this.nextSeq;
      const info = s.insertEvent.run(
        seq,
        e.id,
        e.topic,
        e.type,
        e.source,
        e.subject,
        e.time,
        e.key,
        e.dataJson,
        hasKeys(e.attributes) ? JSON.stringify(e.attributes) : null,
        e.receivedAt,
        e.clientId ? (publisher ?? null) : null,
      );
      if (info.changes === 0) {
        // A repeat of a client-given id: answer with the first result, store nothing (or refuse: see repeats.ts).
        const prior = s.priorById.get(e.id) as PriorEvent;
        checkRepeatedId(prior, e, publisher);
        results.push({ id: e.id, seq: prior.seq, topic: prior.topic });
        continue;
      }
      // Created only once an event is really stored in it: a repeated id names no new topic.
      if (unknownTopic && request.createTopics && s.ensureTopic.run(e.topic, now, now).changes > 0) newTopics.push(e.topic);
      this.nextSeq = seq + 1;
      results.push({ id: e.id, seq, topic: e.topic });
      // The request owns its events: give this one its seq in place rather than copy it.
      const committed = e as StoredEvent;
      committed.seq = seq;
      stored.push(committed);
      if (bumpTopic === undefined || bumpTopic === e.topic) {
        bumpTopic = e.topic;
        bumpCount++;
        if (e.receivedAt > bumpLast) bumpLast = e.receivedAt;
      } else {
        otherBumps ??= new Map();
        const b = otherBumps.get(e.topic);
        if (b) {
          b.count++;
          if (e.receivedAt > b.last) b.last = e.receivedAt;
        } else otherBumps.set(e.topic, { count: 1, last: e.receivedAt });
      }
    }
    if (request.idempotencyKey !== undefined) s.idempotencyPut.run(idempotencyScope(publisher), request.idempotencyKey, JSON.stringify(results), now);
    if (bumpTopic !== undefined) foldBump(topicBumps, bumpTopic, bumpCount, bumpLast);
    if (otherBumps) for (const [topic, b] of otherBumps) foldBump(topicBumps, topic, b.count, b.last);
    return { ok: true, results, stored, replayed: stored.length === 0 && results.length > 0 && request.events.every((e) => e.clientId) };
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const row = this.stmts.eventById.get(id) as EventRow | undefined;
    return row && toEvent(row);
  }

  async getEventSeq(id: string): Promise<number | undefined> {
    return (this.stmts.seqById.get(id) as { seq: number } | undefined)?.seq;
  }

  async readEventsAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return (this.stmts.eventsAfter.all(afterSeq, limit) as EventRow[]).map(toEvent);
  }

  async lastSeq(): Promise<number> {
    return this.nextSeq - 1;
  }

  async firstSeq(): Promise<number | undefined> {
    return (this.stmts.firstSeq.get() as { seq: number | null }).seq ?? undefined;
  }

  async searchEvents(q: EventQuery): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const topicTerms: string[] = [];
    if (q.topics?.length) {
      topicTerms.push(`topic IN (${q.topics.map(() => "?").join(", ")})`);
      params.push(...q.topics);
    }
    for (const prefix of q.topicPrefixes ?? []) {
      topicTerms.push(`(topic >= ? AND topic < ?)`);
      params.push(prefix, prefixUpperBound(prefix));
    }
    if (topicTerms.length) where.push(`(${topicTerms.join(" OR ")})`);
    if (q.type !== undefined) {
      where.push(`type = ?`);
      params.push(q.type);
    }
    if (q.key !== undefined) {
      where.push(`key = ?`);
      params.push(q.key);
    }
    if (q.fromTime !== undefined) {
      where.push(`time >= ?`);
      params.push(q.fromTime);
    }
    if (q.toTime !== undefined) {
      where.push(`time < ?`);
      params.push(q.toTime);
    }
    for (const { field, value } of q.dataEquals ?? []) {
      const path = `$."${field}"`;
      if (value === null) {
        where.push(`json_type(data, ?) = 'null'`);
        params.push(path);
      } else if (typeof value === "boolean") {
        where.push(`json_type(data, ?) = ?`);
        params.push(path, value ? "true" : "false");
      } else if (typeof value === "number") {
        // `user_id=123` matches the number 123 and the string "123".
        where.push(`(json_extract(data, ?) = ? AND json_type(data, ?) IN ('integer', 'real') OR json_extract(data, ?) = ? AND json_type(data, ?) = 'text')`);
        params.push(path, value, path, path, String(value), path);
      } else {
        where.push(`json_extract(data, ?) = ? AND json_type(data, ?) = 'text'`);
        params.push(path, value, path);
      }
    }
    const desc = q.order === "desc";
    if (q.after) {
      where.push(desc ? `(time, seq) < (?, ?)` : `(time, seq) > (?, ?)`);
      params.push(q.after.time, q.after.seq);
    }
    const dir = desc ? "DESC" : "ASC";
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time ${dir}, seq ${dir} LIMIT ?`;
    params.push(q.limit);
    return (this.cachedStatement(sql).all(...params) as EventRow[]).map(toEvent);
  }

  /** Searches build their SQL from the parameters given; the few shapes in use are prepared once. */
  private cachedStatement(sql: string): Database.Statement {
    let stmt = this.searchStatements.get(sql);
    if (!stmt) {
      if (this.searchStatements.size >= 256) this.searchStatements.clear();
      stmt = this.db.prepare(sql);
      this.searchStatements.set(sql, stmt);
    }
    return stmt;
  }

  async createTopic(input: TopicInput, now: number): Promise<Topic> {
    try {
      this.stmts.topicInsert.run(
        input.name,
        input.description ?? null,
        input.schema == null ? null : JSON.stringify(input.schema),
        input.originHost ?? null,
        input.retentionMs ?? null,
        now,
        now,
      );
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
        throw new HubError("SB_TOPIC_EXISTS", `topic ${JSON.stringify(input.name)} already exists`);
      }
      throw error;
    }
    this.knownTopics.add(input.name);
    return (await this.getTopic(input.name))!;
  }

  async getTopic(name: string): Promise<Topic | undefined> {
    const row = this.stmts.topicGet.get(name) as TopicRow | undefined;
    return row && toTopic(row);
  }

  async listTopics(): Promise<Topic[]> {
    return (this.stmts.topicList.all() as TopicRow[]).map(toTopic);
  }

  async updateTopic(name: string, patch: TopicPatch, now: number): Promise<Topic | undefined> {
    const sets: string[] = ["updated_at = ?"];
    const params: unknown[] = [now];
    if (patch.description !== undefined) {
      sets.push("description = ?");
      params.push(patch.description);
    }
    if (patch.schema !== undefined) {
      sets.push("schema = ?");
      params.push(patch.schema === null ? null : JSON.stringify(patch.schema));
    }
    if (patch.originHost !== undefined) {
      sets.push("origin_host = ?");
      params.push(patch.originHost);
    }
    if (patch.retentionMs !== undefined) {
      sets.push("retention_ms = ?");
      params.push(patch.retentionMs);
    }
    params.push(name);
    const info = this.db.prepare(`UPDATE topics SET ${sets.join(", ")} WHERE name = ?`).run(...params);
    return info.changes === 0 ? undefined : this.getTopic(name);
  }

  async deleteTopic(name: string): Promise<boolean> {
    const deleted = this.db.transaction(() => {
      this.stmts.topicEventsDelete.run(name);
      return this.stmts.topicDelete.run(name).changes > 0;
    })();
    this.knownTopics.delete(name);
    return deleted;
  }

  async deleteEventsBefore(topic: string, beforeReceivedAtMs: number, limit: number): Promise<number> {
    return this.db
      .transaction(() => {
        const removed = this.stmts.oldEventsDelete.run(topic, beforeReceivedAtMs, limit).changes;
        if (removed > 0) this.stmts.dropTopicCount.run(removed, topic);
        return removed;
      })
      .immediate();
  }

  async createSubscription(subscription: Subscription): Promise<void> {
    this.deliveries.createSubscription(subscription);
  }

  async getSubscription(id: string): Promise<Subscription | undefined> {
    return this.deliveries.getSubscription(id);
  }

  async listSubscriptions(): Promise<Subscription[]> {
    return this.deliveries.listSubscriptions();
  }

  async findSubscription(topic: string, url: string): Promise<Subscription | undefined> {
    return this.deliveries.findSubscription(topic, url);
  }

  async updateSubscription(id: string, patch: SubscriptionPatch, now: number): Promise<Subscription | undefined> {
    return this.deliveries.updateSubscription(id, patch, now);
  }

  async deleteSubscription(id: string): Promise<boolean> {
    return this.deliveries.deleteSubscription(id);
  }

  async seqBefore(ms: number): Promise<number> {
    return this.deliveries.seqBefore(ms);
  }

  async addDeliveries(subscriptionId: string, deliveries: NewDelivery[], cursorSeq: number | undefined, now: number): Promise<void> {
    this.deliveries.addDeliveries(subscriptionId, deliveries, cursorSeq, now);
  }

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    this.deliveries.recordAttempts(records);
  }

  async openDeliveries(subscriptionId: string, afterSeq: number, limit: number, afterId?: string): Promise<Delivery[]> {
    return this.deliveries.openDeliveries(subscriptionId, afterSeq, limit, afterId);
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    return this.deliveries.getDelivery(id);
  }

  async searchDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    return this.deliveries.searchDeliveries(query);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    return this.deliveries.listAttempts(deliveryId);
  }

  async retryDeliveries(selection: RetrySelection, now: number): Promise<Delivery[]> {
    return this.deliveries.retryDeliveries(selection, now);
  }

  async claimRetries(nodeId: string, deliveryIds: string[], now: number, marginMs: number): Promise<string[]> {
    return this.deliveries.claimRetries(nodeId, deliveryIds, now, marginMs);
  }

  async claimDueRetries(nodeId: string, dueBefore: number, now: number, marginMs: number, limit: number, leaseStaleBefore: number): Promise<Delivery[]> {
    return this.deliveries.claimDueRetries(nodeId, dueBefore, now, marginMs, limit, leaseStaleBefore);
  }

  async pruneAttempts(beforeMs: number, limit: number): Promise<number> {
    return this.deliveries.pruneAttempts(beforeMs, limit);
  }

  async createApiKey(key: ApiKey): Promise<void> {
    try {
      this.stmts.apiKeyInsert.run(key.id, key.name, key.hash, key.prefix, JSON.stringify(key.scopes), key.createdAt, key.revokedAt);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new HubError("SB_API_KEY_EXISTS", `an API key with id ${JSON.stringify(key.id)} or the same token already exists`);
      }
      throw error;
    }
  }

  async findApiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    const row = this.stmts.apiKeyByHash.get(hash) as ApiKeyRow | undefined;
    return row && toApiKey(row);
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (this.stmts.apiKeyList.all() as ApiKeyRow[]).map(toApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<ApiKey | undefined> {
    this.stmts.apiKeyRevoke.run(now, id);
    const row = this.stmts.apiKeyById.get(id) as ApiKeyRow | undefined;
    return row && toApiKey(row);
  }

  async countActiveApiKeys(): Promise<number> {
    return (this.stmts.apiKeyCountActive.get() as { n: number }).n;
  }

  async acquireLeases(nodeId: string, subscriptionIds: string[], ttlMs: number, now: number): Promise<string[]> {
    return this.deliveries.acquireLeases(nodeId, subscriptionIds, ttlMs, now);
  }

  async heartbeat(nodeId: string, now: number, ttlMs: number): Promise<number> {
    return this.deliveries.heartbeat(nodeId, now, ttlMs);
  }

  async removeNode(nodeId: string): Promise<void> {
    this.deliveries.removeNode(nodeId);
  }

  async releaseLeases(nodeId: string, subscriptionIds: string[]): Promise<void> {
    this.deliveries.releaseLeases(nodeId, subscriptionIds);
  }

  async stats(): Promise<StoreStats> {
    return this.stmts.countEvents.get() as StoreStats;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new HubError("SB_STORE_UNAVAILABLE", "the store is closed");
    this.stmts.ping.get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function foldBump(bumps: Map<string, { count: number; last: number }>, topic: string, count: number, last: number): void {
  const bump = bumps.get(topic);
  if (bump) {
    bump.count += count;
    if (last > bump.last) bump.last = last;
  } else bumps.set(topic, { count, last });
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** The smallest string greater than every string starting with `prefix`. */
function prefixUpperBound(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
