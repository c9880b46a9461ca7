import { randomBytes } from "node:crypto";
import pg from "pg";
import { HubError } from "../../errors.js";
import { loadMigrations } from "../migrate.js";
import { checkRepeatedId, checkRepeatedKey, idempotencyScope, type PriorEvent } from "../repeats.js";
import { PgDeliveries } from "./pg-deliveries.js";
import { SUBSCRIPTIONS_CHANNEL, COMMITS_CHANNEL, watchPgCommits } from "./pg-watcher.js";
import { inTransaction, isUniqueViolation } from "./pg-util.js";
import type {
  ApiKey,
  AppendOutcome,
  AppendRequest,
  AppendResult,
  Attempt,
  AttemptRecord,
  CommitListener,
  Delivery,
  DeliveryQuery,
  EventQuery,
  NewDelivery,
  NewEvent,
  RetrySelection,
  Store,
  StoreStats,
  StoredEvent,
  Subscription,
  SubscriptionPatch,
  Topic,
  TopicInput,
  TopicPatch,
} from "../store.js";

/** Options of {@link openPgStore}. */
export interface PgStoreOptions {
  /** `postgres://user@host:port/database`. */
  url: string;
  /** Connections in the pool. */
  maxConnections?: number;
  /** Events (seq values) per partition of the event log. Default {@link DEFAULT_PARTITION_SIZE}. */
  partitionSize?: number;
}

/**
 * Seq values per partition of the events table: at 300 million events that is 30 partitions, few enough that
 * lookups by id (which probe every partition) stay cheap, and each one is dropped in one step once it has expired.
 */
export const DEFAULT_PARTITION_SIZE = 10_000_000;

/**
 * One statement per request: the events in order (nextval follows the ordinality) and the topics of the events
 * created if missing ($12: createTopics). Repeats of stored ids were taken out before (see appendOne).
 */
const APPEND_SQL = `WITH ins AS (
     INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at, publisher)
     SELECT nextval('events_seq'), u.id, u.topic, u.type, u.source, u.subject, u.time, u.key, u.data, u.attributes::json, u.received_at,
            u.publisher
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[],
                 $11::text[])
       WITH ORDINALITY AS u(id, topic, type, source, subject, time, key, data, attributes, received_at, publisher, ord)
     ORDER BY u.ord
     RETURNING id, seq, topic
   ), created AS (
     INSERT INTO topics (name, created_at, updated_at)
     SELECT DISTINCT topic, $12::bigint, $12::bigint FROM ins WHERE $13::boolean
     ON CONFLICT (name) DO NOTHING
   )
   SELECT id, seq FROM ins`;

/**
 * The whole of a plain group commit in one statement (see {@link PgStore.appendEvents}): the events, the topics'
 * counts (creating missing topics), the highest committed seq and its announcement to the other nodes.
 */
const APPEND_BATCH_SQL = `WITH ins AS (
     INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at)
     SELECT nextval('events_seq'), u.id, u.topic, u.type, u.source, u.subject, u.time, u.key, u.data, u.attributes::json, u.received_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                 string_to_array($8::text, chr(30)), $9::text[], $10::bigint[])
       WITH ORDINALITY AS u(id, topic, type, source, subject, time, key, data, attributes, received_at, ord)
     ORDER BY u.ord
     RETURNING id, seq, topic, received_at
   ), counted AS (
     INSERT INTO topics (name, created_at, updated_at, event_count, last_event_at)
     SELECT topic, $11::bigint, $11::bigint, count(*), max(received_at) FROM ins GROUP BY topic
     ON CONFLICT (name) DO UPDATE SET event_count = topics.event_count + excluded.event_count,
       last_event_at = greatest(coalesce(topics.last_event_at, 0), excluded.last_event_at)
   ), state AS (
     UPDATE store_state SET last_seq = greatest(last_seq, (SELECT max(seq) FROM ins)) WHERE id = 1 RETURNING last_seq
   )
   SELECT id, seq, (SELECT pg_notify('${COMMITS_CHANNEL}', last_seq::text) FROM state) AS notified FROM ins`;

/** Advisory lock keys (arbitrary constants, "SB" + purpose) so that nodes sharing a database take the same locks. */
const MIGRATE_LOCK = 0x5342_4d49; // "SBMI"
const APPEND_LOCK = 0x5342_4150; // "SBAP"
const PARTITION_LOCK = 0x5342_5041; // "SBPA"
const DROP_LOCK = 0x5342_4452; // "SBDR"

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
  attributes: Record<string, string> | null;
  received_at: number;
}

interface TopicRow {
  name: string;
  description: string | null;
  schema: unknown;
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
  scopes: string[];
  created_at: number;
  revoked_at: number | null;
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
    attributes: row.attributes ?? EMPTY_ATTRIBUTES,
    receivedAt: row.received_at,
  };
}

function toTopic(row: TopicRow): Topic {
  return {
    name: row.name,
    description: row.description,
    schema: row.schema ?? null,
    originHost: row.origin_host,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    eventCount: row.event_count,
    lastEventAt: row.last_event_at,
    retentionMs: row.retention_ms,
  };
}

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    prefix: row.prefix,
    scopes: row.scopes,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** bigint (int8) columns hold epoch ms, seqs and counts, all well inside 2^53: read them as numbers. */
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Opens a PostgreSQL store (a connection pool; nothing connects until first use). Call `migrate()` before use. */
export function openPgStore(options: PgStoreOptions): PgStore {
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10, types: TYPES });
  // An idle connection that the server drops emits `error` on the pool; without a listener that would crash the
  // process. The pool discards that connection by itself and the next query opens a new one.
  pool.on("error", () => {});
  return new PgStore(pool, options.url, options.partitionSize);
}

/**
 * The PostgreSQL store: several Switchboard nodes may share one database. seq comes from a sequence; appends
 * serialize on an advisory lock so that seq order is commit order (see {@link PgStore.appendEvents}).
 */
export class PgStore implements Store {
  readonly dialect = "postgres" as const;
  private readonly pool: pg.Pool;
  private readonly deliveries: PgDeliveries;
  private closed = false;
  /** Connection string for the LISTEN connection of {@link watchCommits}; without it the store cannot watch. */
  private readonly url: string | undefined;
  /** Tells this store's own subscription announcements apart from other nodes'. */
  private readonly nodeId = randomBytes(8).toString("hex");
  private readonly watchers = new Set<() => Promise<void>>();
  private readonly partitionSize: number;
  /** The end (exclusive) of the highest partition of the event log, as last seen; 0 before the first look. */
  private partitionEnd = 0;
  private ensuring: Promise<void> | undefined;

  constructor(pool: pg.Pool, url?: string, partitionSize = DEFAULT_PARTITION_SIZE) {
    this.pool = pool;
    this.url = url;
    this.partitionSize = partitionSize;
    this.deliveries = new PgDeliveries(pool);
  }

  /**
   * LISTENs for commits of every node on a dedicated connection: appendEvents NOTIFYs its last seq inside the
   * transaction, which PostgreSQL delivers at commit, in commit order.
   */
  async watchCommits(listener: CommitListener): Promise<() => Promise<void>> {
    if (this.url === undefined) throw new Error("this PgStore was built without a URL, so it cannot LISTEN");
    if (this.closed) throw new HubError("SB_STORE_UNAVAILABLE", "the store is closed");
    const stop = await this.wrap(
      watchPgCommits({
        url: this.url,
        nodeId: this.nodeId,
        listener,
        lastSeq: () => this.lastSeq(),
        onError: (error) => listener.onConnectionError?.(error),
        types: TYPES,
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

  async announceSubscriptionChange(id: string): Promise<void> {
    await this.query(`SELECT pg_notify('${SUBSCRIPTIONS_CHANNEL}', $1)`, [`${this.nodeId} ${id}`]);
  }

  /**
   * Each migration runs in its own transaction holding a transaction-level advisory lock; the version is read
   * again under the lock, so nodes starting at once apply each migration exactly once.
   */
  async migrate(): Promise<{ applied: string[]; version: number }> {
    const migrations = loadMigrations("postgres");
    const latest = migrations.length;
    const applied: string[] = [];
    for (;;) {
      const done = await inTransaction(this.pool, async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`);
        await client.query(`CREATE TABLE IF NOT EXISTS switchboard_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
        const { rows } = await client.query<{ v: number }>(`SELECT coalesce(max(version), 0) AS v FROM switchboard_migrations`);
        const current = rows[0]!.v;
        if (current > latest) {
          throw new Error(
            `the database is at schema version ${current}, newer than this Switchboard knows (${latest}); upgrade Switchboard`,
          );
        }
        if (current === latest) return true;
        const m = migrations[current]!;
        await client.query(m.sql);
        await client.query(`INSERT INTO switchboard_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
        applied.push(`${String(m.version).padStart(4, "0")}_${m.name}`);
        return false;
      });
      if (done) break;
    }
    await this.ensureEventPartitions();
    return { applied, version: latest };
  }

  /**
   * Makes sure partitions of the event log cover every seq up to `uptoSeq` (and at least one partition beyond the
   * sequence's current value). Appends call it ahead of need, so ingest never waits for it; several nodes may call
   * it at once (an advisory lock serializes them). A new partition is created empty and then attached, which locks
   * the events table only in SHARE UPDATE EXCLUSIVE mode: reads and appends go on meanwhile.
   */
  async ensureEventPartitions(uptoSeq = 0): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`);
      const { rows } = await client.query<{ last: number }>(`SELECT last_value AS last FROM events_seq`);
      let end = 1;
      for (const p of await listPartitions(client)) if (p.to !== null && p.to > end) end = p.to;
      const target = Math.max(rows[0]!.last, uptoSeq) + this.partitionSize;
      while (end <= target) {
        const from = end;
        const to = from + this.partitionSize;
        await client.query(`CREATE TABLE IF NOT EXISTS events_from_${from} (LIKE events INCLUDING DEFAULTS)`);
        await client.query(`ALTER TABLE events ATTACH PARTITION events_from_${from} FOR VALUES FROM (${from}) TO (${to})`);
        end = to;
      }
      this.partitionEnd = end;
    });
  }

  /** Starts {@link ensureEventPartitions} unless one is running; failures are retried by the next append. */
  private ensurePartitionsSoon(uptoSeq: number): Promise<void> {
    this.ensuring ??= this.ensureEventPartitions(uptoSeq)
      .catch(() => {}) // the next append past the threshold tries again, and an append with no partition waits for it
      .finally(() => (this.ensuring = undefined));
    return this.ensuring;
  }

  /**
   * Group commit: all requests in one transaction, each inside a savepoint so that a failing request rolls back
   * alone. The transaction first takes an advisory lock, so appends from every node serialize.
   *
   * Why serialize: readers (SSE streams, the dispatcher, replicas of the hub) use seq as a cursor and read
   * `seq > cursor`. A sequence hands out numbers at insert time, not at commit; two concurrent appenders could
   * commit seq 11 before seq 10, a reader would see 11, move its cursor past 10, and never see 10 when it
   * commits. Holding one lock from the first nextval to the commit makes seq order commit order, so a lower seq
   * never becomes visible after a higher one. Group commit keeps the cost low: one lock per batch, not per event.
   */
  async appendEvents(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    if (requests.length === 0) return [];
    // Plain requests (the usual case: no idempotency key, no client ids, topics created on demand) need no lookups:
    // the whole batch goes in one statement, three round trips in all instead of two or three per request. If that
    // statement fails, one request is at fault: the batch runs again the careful way, each request alone.
    const plain = requests.every((r) => r.idempotencyKey === undefined && r.createTopics && r.events.every((e) => !e.clientId));
    if (plain) {
      const outcomes = await this.appendPlain(requests);
      if (outcomes) return outcomes;
    }
    return this.appendEach(requests);
  }

  /** The one-statement path of {@link appendEvents}; undefined when a request made the statement fail. */
  private async appendPlain(requests: AppendRequest[]): Promise<AppendOutcome[] | undefined> {
    const now = Date.now();
    const events = requests.flatMap((r) => r.events);
    // The data texts joined by U+001E rather than as a text array: pg escapes array elements one by one in JavaScript,
    // which cost more than everything else in a batch (JSON text is full of quotes). Valid JSON text never holds a raw
    // U+001E (control characters are escaped inside strings and not allowed outside them); text that does goes the
    // careful way.
    if (events.some((e) => e.dataJson.includes("\x1e"))) return undefined;
    const dataTexts = events.map((e) => e.dataJson).join("\x1e");
    const client = await this.wrap(this.pool.connect());
    let broken: Error | undefined;
    try {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK})`);
      let rows: Array<{ id: string; seq: number }>;
      try {
        ({ rows } = await client.query<{ id: string; seq: number }>({
          name: "switchboard_append_batch",
          text: APPEND_BATCH_SQL,
          values: [...eventColumns(events, dataTexts), now],
        }));
      } catch (error) {
        await client.query(`ROLLBACK`).catch((rollbackError: Error) => (broken = rollbackError));
        if (translateError(error) instanceof HubError) throw error; // the database, not a request
        return undefined;
      }
      await client.query(`COMMIT`);
      const seqOf = new Map(rows.map((r) => [r.id, r.seq]));
      let lastStored = 0;
      const outcomes = requests.map((request): AppendOutcome => {
        const stored = request.events as StoredEvent[];
        for (const e of stored) {
          e.seq = seqOf.get(e.id)!;
          if (e.seq > lastStored) lastStored = e.seq;
        }
        return { ok: true, results: stored.map((e) => ({ id: e.id, seq: e.seq, topic: e.topic })), stored, replayed: false };
      });
      if (lastStored + this.partitionSize / 2 >= this.partitionEnd) void this.ensurePartitionsSoon(lastStored);
      return outcomes;
    } catch (error) {
      broken ??= error as Error;
      throw translateError(error);
    } finally {
      client.release(broken);
    }
  }

  /** The careful path of {@link appendEvents}: each request in a savepoint, so that one failing fails alone. */
  private async appendEach(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    const now = Date.now();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK})`);
      try {
        const outcomes: AppendOutcome[] = [];
        const bumps = new Map<string, { count: number; last: number }>();
        let lastStored = 0;
        for (const [i, request] of requests.entries()) {
          // One round trip: release the previous request's savepoint (COMMIT releases the last) and set this one.
          await client.query(i === 0 ? `SAVEPOINT request` : `RELEASE SAVEPOINT request; SAVEPOINT request`);
          let outcome: AppendOutcome;
          try {
            outcome = await this.appendOne(client, request, now);
          } catch (error) {
            await client.query(`ROLLBACK TO SAVEPOINT request`);
            if (!isNoPartition(error)) {
              outcomes.push({ ok: false, error: translateRequestError(error) });
              continue;
            }
            // The sequence ran past the partitions (they are created ahead, so only if that failed): create them on
            // another connection (attaching does not conflict with this transaction's locks) and try once more.
            await this.ensureEventPartitions();
            try {
              outcome = await this.appendOne(client, request, now);
            } catch (retryError) {
              await client.query(`ROLLBACK TO SAVEPOINT request`);
              outcomes.push({ ok: false, error: translateRequestError(retryError) });
              continue;
            }
          }
          outcomes.push(outcome);
          // Counted only once the request is certain to commit; once per topic per batch.
          if (outcome.ok) {
            for (const e of outcome.stored) {
              if (e.seq > lastStored) lastStored = e.seq;
              const b = bumps.get(e.topic);
              if (b) {
                b.count++;
                if (e.receivedAt > b.last) b.last = e.receivedAt;
              } else bumps.set(e.topic, { count: 1, last: e.receivedAt });
            }
          }
        }
        if (bumps.size > 0) {
          // NOTIFY is delivered at COMMIT and in commit order: other nodes learn of these events once they are visible.
          await client.query(
            `WITH s AS (UPDATE store_state SET last_seq = greatest(last_seq, $1::bigint) WHERE id = 1 RETURNING 1)
             SELECT pg_notify('${COMMITS_CHANNEL}', $1::bigint::text) FROM s`,
            [lastStored],
          );
          const entries = [...bumps];
          await client.query(
            `UPDATE topics SET event_count = event_count + u.n, last_event_at = greatest(coalesce(last_event_at, 0), u.last)
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(name, n, last) WHERE topics.name = u.name`,
            [entries.map(([t]) => t), entries.map(([, b]) => b.count), entries.map(([, b]) => b.last)],
          );
        }
        await client.query(`COMMIT`);
        // Half a partition before the end: create the next one now, off the append path.
        if (lastStored > 0 && lastStored + this.partitionSize / 2 >= this.partitionEnd) void this.ensurePartitionsSoon(lastStored);
        return outcomes;
      } catch (error) {
        await client.query(`ROLLBACK`).catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      }
    } catch (error) {
      throw translateError(error);
    } finally {
      client.release(broken);
    }
  }

  private async appendOne(client: pg.PoolClient, request: AppendRequest, now: number): Promise<AppendOutcome> {
    const { publisher } = request;
    if (request.idempotencyKey !== undefined) {
      const prior = await client.query<{ results: AppendResult[] }>(`SELECT results FROM idempotency_keys WHERE publisher = $1 AND key = $2`, [
        idempotencyScope(publisher),
        request.idempotencyKey,
      ]);
      if (prior.rows[0]) {
        checkRepeatedKey(prior.rows[0].results, request.events, publisher);
        return { ok: true, results: prior.rows[0].results, stored: [], replayed: true };
      }
    }
    const events = request.events;
    if (!request.createTopics) {
      const names = [...new Set(events.map((e) => e.topic))];
      const { rows } = await client.query<{ name: string }>(`SELECT name FROM topics WHERE name = ANY($1::text[])`, [names]);
      const existing = new Set(rows.map((r) => r.name));
      const missing = names.find((n) => !existing.has(n));
      // The caller checked; the topic vanished since. Fail this request only.
      if (missing !== undefined) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(missing)} does not exist`);
    }
    // Ids already stored (before this request, or earlier in this batch) are answered with the first result. The
    // table has no unique index on id (it is partitioned by seq), but appends hold the append lock, so nothing can
    // store an id between this check and the insert. Ids the hub generated are new ULIDs: only clients' are looked up.
    const prior = new Map<string, PriorEvent>();
    const clientIds = events.filter((e) => e.clientId).map((e) => e.id);
    if (clientIds.length > 0) {
      const { rows } = await client.query<PriorEvent & { id: string }>(
        `SELECT id, seq, topic, source, publisher FROM events WHERE id = ANY($1::text[])`,
        [clientIds],
      );
      for (const r of rows) prior.set(r.id, r);
    }
    // A repeat within this request is checked against the first event with its id, as if that were stored already.
    const fresh: NewEvent[] = [];
    const inRequest = new Map<string, PriorEvent>();
    for (const e of events) {
      const before = prior.get(e.id) ?? inRequest.get(e.id);
      if (before !== undefined) {
        checkRepeatedId(before, e, publisher);
        continue;
      }
      inRequest.set(e.id, { seq: 0, topic: e.topic, source: e.source, publisher: e.clientId ? (publisher ?? null) : null });
      fresh.push(e);
    }
    const firstResult = new Map<string, AppendResult>();
    for (const [id, r] of prior) firstResult.set(id, { id, seq: r.seq, topic: r.topic });
    let seqOf = new Map<string, number>();
    if (fresh.length > 0) {
      const { rows: inserted } = await client.query<{ id: string; seq: number }>({
        // Named: prepared once per connection, not planned again for every request.
        name: "switchboard_append",
        text: APPEND_SQL,
        values: [
          ...eventColumns(fresh, fresh.map((e) => e.dataJson)),
          fresh.map((e) => (e.clientId ? (publisher ?? null) : null)),
          now,
          request.createTopics,
        ],
      });
      seqOf = new Map(inserted.map((r) => [r.id, r.seq]));
    }
    const results: AppendResult[] = [];
    const stored: StoredEvent[] = [];
    for (const e of events) {
      const first = firstResult.get(e.id);
      if (first) {
        results.push(first);
        continue;
      }
      const seq = seqOf.get(e.id)!;
      const result = { id: e.id, seq, topic: e.topic };
      results.push(result);
      firstResult.set(e.id, result);
      // The request owns its events: give this one its seq in place rather than copy it.
      const committed = e as StoredEvent;
      committed.seq = seq;
      stored.push(committed);
    }
    if (request.idempotencyKey !== undefined) {
      await client.query(`INSERT INTO idempotency_keys (publisher, key, results, created_at) VALUES ($1, $2, $3, $4)`, [
        idempotencyScope(publisher),
        request.idempotencyKey,
        JSON.stringify(results),
        now,
      ]);
    }
    return { ok: true, results, stored, replayed: stored.length === 0 && results.length > 0 && events.every((e) => e.clientId) };
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const { rows } = await this.query<EventRow>(`SELECT * FROM events WHERE id = $1`, [id]);
    return rows[0] && toEvent(rows[0]);
  }

  async getEventSeq(id: string): Promise<number | undefined> {
    return (await this.query<{ seq: number }>(`SELECT seq FROM events WHERE id = $1`, [id])).rows[0]?.seq;
  }

  async readEventsAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return (await this.query<EventRow>(`SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit])).rows.map(toEvent);
  }

  /**
   * The highest committed seq, kept in store_state so that deleting the newest events does not bring it back. Not
   * the sequence's value: that counts numbers of appends still in flight (and of rolled-back ones), and a reader
   * starting from it would skip events that commit afterwards.
   */
  async lastSeq(): Promise<number> {
    return (await this.query<{ seq: number }>(`SELECT last_seq AS seq FROM store_state WHERE id = 1`)).rows[0]!.seq;
  }

  async firstSeq(): Promise<number | undefined> {
    return (await this.query<{ seq: number | null }>(`SELECT min(seq) AS seq FROM events`)).rows[0]!.seq ?? undefined;
  }

  async searchEvents(q: EventQuery): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const topicTerms: string[] = [];
    // One topic as `=`: with `= ANY(array)` the planner reads the whole time window by bitmap and sorts it, instead of
    // reading the first `limit` rows in order from events_topic_time (measured on 10M events: p50 0.70 → 0.20 ms).
    if (q.topics?.length === 1) topicTerms.push(`topic = ${p(q.topics[0])}`);
    else if (q.topics?.length) topicTerms.push(`topic = ANY(${p(q.topics)}::text[])`);
    // Byte-order ranges: the topic column has the "C" collation, so the range uses events_topic_time.
    for (const prefix of q.topicPrefixes ?? []) topicTerms.push(`(topic >= ${p(prefix)} AND topic < ${p(prefixUpperBound(prefix))})`);
    if (topicTerms.length) where.push(`(${topicTerms.join(" OR ")})`);
    if (q.type !== undefined) where.push(`type = ${p(q.type)}`);
    if (q.key !== undefined) where.push(`key = ${p(q.key)}`);
    if (q.fromTime !== undefined) where.push(`time >= ${p(q.fromTime)}`);
    if (q.toTime !== undefined) where.push(`time < ${p(q.toTime)}`);
    for (const { field, value } of q.dataEquals ?? []) {
      const f = p(field);
      const v = `(${DATA_AS_JSONB} -> ${f})`;
      if (value === null) where.push(`jsonb_typeof${v} = 'null'`);
      else if (typeof value === "boolean") where.push(`${v} = ${p(value ? "true" : "false")}::jsonb`);
      else if (typeof value === "number") {
        // `user_id=123` matches the number 123 and the string "123". CASE, not AND: a string must never be cast.
        where.push(
          `CASE jsonb_typeof${v} WHEN 'number' THEN ${v}::numeric = ${p(String(value))}::numeric
             WHEN 'string' THEN (${DATA_AS_JSONB} ->> ${f}) = ${p(String(value))} ELSE false END`,
        );
      } else where.push(`(jsonb_typeof${v} = 'string' AND (${DATA_AS_JSONB} ->> ${f}) = ${p(value)})`);
    }
    const desc = q.order === "desc";
    if (q.after) where.push(`(time, seq) ${desc ? "<" : ">"} (${p(q.after.time)}, ${p(q.after.seq)})`);
    const dir = desc ? "DESC" : "ASC";
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time ${dir}, seq ${dir} LIMIT ${p(q.limit)}`;
    return (await this.query<EventRow>(sql, params)).rows.map(toEvent);
  }

  async createTopic(input: TopicInput, now: number): Promise<Topic> {
    try {
      const { rows } = await this.pool.query<TopicRow>(
        `INSERT INTO topics (name, description, schema, origin_host, retention_ms, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *`,
        [
          input.name,
          input.description ?? null,
          input.schema == null ? null : JSON.stringify(input.schema),
          input.originHost ?? null,
          input.retentionMs ?? null,
          now,
        ],
      );
      return toTopic(rows[0]!);
    } catch (error) {
      if (isUniqueViolation(error)) throw new HubError("SB_TOPIC_EXISTS", `topic ${JSON.stringify(input.name)} already exists`);
      throw translateError(error);
    }
  }

  async getTopic(name: string): Promise<Topic | undefined> {
    const { rows } = await this.query<TopicRow>(`SELECT * FROM topics WHERE name = $1`, [name]);
    return rows[0] && toTopic(rows[0]);
  }

  async listTopics(): Promise<Topic[]> {
    return (await this.query<TopicRow>(`SELECT * FROM topics ORDER BY name`)).rows.map(toTopic);
  }

  async updateTopic(name: string, patch: TopicPatch, now: number): Promise<Topic | undefined> {
    const params: unknown[] = [now];
    const sets = ["updated_at = $1"];
    const set = (column: string, value: unknown): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.description !== undefined) set("description", patch.description);
    if (patch.schema !== undefined) set("schema", patch.schema === null ? null : JSON.stringify(patch.schema));
    if (patch.originHost !== undefined) set("origin_host", patch.originHost);
    if (patch.retentionMs !== undefined) set("retention_ms", patch.retentionMs);
    params.push(name);
    const { rows } = await this.query<TopicRow>(`UPDATE topics SET ${sets.join(", ")} WHERE name = $${params.length} RETURNING *`, params);
    return rows[0] && toTopic(rows[0]);
  }

  async deleteTopic(name: string): Promise<boolean> {
    return this.transaction(async (client) => {
      // Under the append lock: an append in flight could otherwise store events in the topic (and miss its row
      // when bumping the counters) between these two deletes, leaving events without a topic.
      await client.query(`SELECT pg_advisory_xact_lock(${APPEND_LOCK})`);
      await client.query(`DELETE FROM events WHERE topic = $1`, [name]);
      return ((await client.query(`DELETE FROM topics WHERE name = $1`, [name])).rowCount ?? 0) > 0;
    });
  }

  async deleteEventsBefore(topic: string, beforeReceivedAtMs: number, limit: number): Promise<number> {
    // One statement, so one short transaction; the sequence keeps the highest seq given out.
    const { rows } = await this.query<{ n: number }>(
      `WITH gone AS (
         DELETE FROM events WHERE seq IN
           (SELECT seq FROM events WHERE topic = $1 AND received_at < $2 ORDER BY received_at, seq LIMIT $3)
         RETURNING 1
       ), removed AS (SELECT count(*) AS n FROM gone), counted AS (
         UPDATE topics SET event_count = greatest(event_count - (SELECT n FROM removed), 0)
         WHERE name = $1 AND (SELECT n FROM removed) > 0
       )
       SELECT n FROM removed`,
      [topic, beforeReceivedAtMs, limit],
    );
    return rows[0]!.n;
  }

  /**
   * Retention's fast path: drops whole partitions of the event log in which every event has expired, lowering the
   * topics' event counts by what each held. A partition qualifies once the sequence has moved past it (nothing can be
   * added to it) and, for every topic with events in it, its newest event there was received before
   * `cutoffFor(topic)` (`undefined`: the topic keeps its events forever). The partition is detached CONCURRENTLY,
   * so appends and reads go on meanwhile, then dropped; a crash in between is finished by the next call.
   */
  async dropExpiredPartitions(cutoffFor: (topic: string) => number | undefined): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    const client = await this.wrap(this.pool.connect());
    let broken: Error | undefined;
    try {
      // One dropper at a time across nodes: two concurrent detaches of one table would fail.
      const { rows: locked } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${DROP_LOCK}) AS ok`);
      if (!locked[0]!.ok) return removed;
      try {
        const partitions = await listPartitions(client);
        // A detach interrupted by a crash is completed first.
        for (const p of partitions.filter((p) => p.detachPending)) {
          await client.query(`ALTER TABLE events DETACH PARTITION ${p.name} FINALIZE`);
          await this.dropDetached(client, p.name, removed);
        }
        for (const name of await listDetachedLeftovers(client)) await this.dropDetached(client, name, removed);
        const lastSeq = (await client.query<{ seq: number }>(`SELECT last_seq AS seq FROM store_state WHERE id = 1`)).rows[0]!.seq;
        const { rows: seqRows } = await client.query<{ last: number }>(`SELECT last_value AS last FROM events_seq`);
        const sealedBelow = Math.min(lastSeq, seqRows[0]!.last) + 1;
        for (const p of partitions) {
          if (p.detachPending || p.to === null || p.to > sealedBelow) continue;
          if (!(await this.partitionExpired(client, p.name, cutoffFor))) continue;
          await client.query(`ALTER TABLE events DETACH PARTITION ${p.name} CONCURRENTLY`);
          await this.dropDetached(client, p.name, removed);
        }
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${DROP_LOCK})`);
      }
      return removed;
    } catch (error) {
      broken = error as Error;
      throw translateError(error);
    } finally {
      client.release(broken);
    }
  }

  /** Whether every topic with events in the partition has them all before its cutoff. */
  private async partitionExpired(client: pg.PoolClient, name: string, cutoffFor: (topic: string) => number | undefined): Promise<boolean> {
    // The topics present, by skipping through the (topic, received_at) index rather than reading every row.
    const { rows } = await client.query<{ topic: string; newest: number }>(
      `WITH RECURSIVE t AS (
         SELECT min(topic) AS topic FROM ${name}
         UNION ALL
         SELECT (SELECT min(topic) FROM ${name} WHERE topic > t.topic) FROM t WHERE t.topic IS NOT NULL
       )
       SELECT t.topic, (SELECT max(received_at) FROM ${name} e WHERE e.topic = t.topic) AS newest FROM t WHERE t.topic IS NOT NULL`,
    );
    return rows.every((r) => {
      const cutoff = cutoffFor(r.topic);
      return cutoff !== undefined && r.newest < cutoff;
    });
  }

  /** Counts what a detached partition held per topic, lowers the topics' counts and drops it, in one transaction. */
  private async dropDetached(client: pg.PoolClient, name: string, removed: Record<string, number>): Promise<void> {
    await client.query(`BEGIN`);
    try {
      const { rows } = await client.query<{ topic: string; n: number }>(`SELECT topic, count(*) AS n FROM ${name} GROUP BY topic`);
      if (rows.length > 0) {
        await client.query(
          `UPDATE topics SET event_count = greatest(event_count - u.n, 0) FROM unnest($1::text[], $2::bigint[]) AS u(name, n)
           WHERE topics.name = u.name`,
          [rows.map((r) => r.topic), rows.map((r) => r.n)],
        );
      }
      await client.query(`DROP TABLE ${name}`);
      await client.query(`COMMIT`);
      for (const r of rows) removed[r.topic] = (removed[r.topic] ?? 0) + r.n;
    } catch (error) {
      await client.query(`ROLLBACK`);
      throw error;
    }
  }

  async createSubscription(subscription: Subscription): Promise<void> {
    return this.wrap(this.deliveries.createSubscription(subscription));
  }

  async getSubscription(id: string): Promise<Subscription | undefined> {
    return this.wrap(this.deliveries.getSubscription(id));
  }

  async listSubscriptions(): Promise<Subscription[]> {
    return this.wrap(this.deliveries.listSubscriptions());
  }

  async findSubscription(topic: string, url: string): Promise<Subscription | undefined> {
    return this.wrap(this.deliveries.findSubscription(topic, url));
  }

  async updateSubscription(id: string, patch: SubscriptionPatch, now: number): Promise<Subscription | undefined> {
    return this.wrap(this.deliveries.updateSubscription(id, patch, now));
  }

  async deleteSubscription(id: string): Promise<boolean> {
    return this.wrap(this.deliveries.deleteSubscription(id));
  }

  async seqBefore(ms: number): Promise<number> {
    return this.wrap(this.deliveries.seqBefore(ms));
  }

  async addDeliveries(subscriptionId: string, deliveries: NewDelivery[], cursorSeq: number | undefined, now: number): Promise<void> {
    return this.wrap(this.deliveries.addDeliveries(subscriptionId, deliveries, cursorSeq, now));
  }

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    return this.wrap(this.deliveries.recordAttempts(records));
  }

  async openDeliveries(subscriptionId: string, afterSeq: number, limit: number, afterId?: string): Promise<Delivery[]> {
    return this.wrap(this.deliveries.openDeliveries(subscriptionId, afterSeq, limit, afterId));
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    return this.wrap(this.deliveries.getDelivery(id));
  }

  async searchDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    return this.wrap(this.deliveries.searchDeliveries(query));
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    return this.wrap(this.deliveries.listAttempts(deliveryId));
  }

  async retryDeliveries(selection: RetrySelection, now: number): Promise<Delivery[]> {
    return this.wrap(this.deliveries.retryDeliveries(selection, now));
  }

  async claimRetries(nodeId: string, deliveryIds: string[], now: number, marginMs: number): Promise<string[]> {
    return this.wrap(this.deliveries.claimRetries(nodeId, deliveryIds, now, marginMs));
  }

  async claimDueRetries(nodeId: string, dueBefore: number, now: number, marginMs: number, limit: number, leaseStaleBefore: number): Promise<Delivery[]> {
    return this.wrap(this.deliveries.claimDueRetries(nodeId, dueBefore, now, marginMs, limit, leaseStaleBefore));
  }

  async pruneAttempts(beforeMs: number, limit: number): Promise<number> {
    return this.wrap(this.deliveries.pruneAttempts(beforeMs, limit));
  }

  async createApiKey(key: ApiKey): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [key.id, key.name, key.hash, key.prefix, JSON.stringify(key.scopes), key.createdAt, key.revokedAt],
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new HubError("SB_API_KEY_EXISTS", `an API key with id ${JSON.stringify(key.id)} or the same token already exists`);
      }
      throw translateError(error);
    }
  }

  async findApiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    const { rows } = await this.query<ApiKeyRow>(`SELECT * FROM api_keys WHERE hash = $1`, [hash]);
    return rows[0] && toApiKey(rows[0]);
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (await this.query<ApiKeyRow>(`SELECT * FROM api_keys ORDER BY id`)).rows.map(toApiKey);
  }

  async revokeApiKey(id: string, now: number): Promise<ApiKey | undefined> {
    const { rows } = await this.query<ApiKeyRow>(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING *`, [now, id]);
    return rows[0] && toApiKey(rows[0]);
  }

  async countActiveApiKeys(): Promise<number> {
    return (await this.query<{ n: number }>(`SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`)).rows[0]!.n;
  }

  async acquireLeases(nodeId: string, subscriptionIds: string[], ttlMs: number, now: number): Promise<string[]> {
    return this.wrap(this.deliveries.acquireLeases(nodeId, subscriptionIds, ttlMs, now));
  }

  async heartbeat(nodeId: string, now: number, ttlMs: number): Promise<number> {
    return this.wrap(this.deliveries.heartbeat(nodeId, now, ttlMs));
  }

  async removeNode(nodeId: string): Promise<void> {
    return this.wrap(this.deliveries.removeNode(nodeId));
  }

  async releaseLeases(nodeId: string, subscriptionIds: string[]): Promise<void> {
    return this.wrap(this.deliveries.releaseLeases(nodeId, subscriptionIds));
  }

  async stats(): Promise<StoreStats> {
    const { rows } = await this.query<StoreStats>(`SELECT coalesce(sum(event_count), 0)::bigint AS events, count(*) AS topics FROM topics`);
    return { events: rows[0]!.events, topics: rows[0]!.topics };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new HubError("SB_STORE_UNAVAILABLE", "the store is closed");
    await this.query(`SELECT 1`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watchers].map((unwatch) => unwatch()));
    await this.pool.end();
  }

  /** A query on the pool, with connection failures translated. */
  private async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.wrap(this.pool.query<R>(sql, params));
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.wrap(inTransaction(this.pool, fn));
  }

  private async wrap<T>(promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      throw translateError(error);
    }
  }
}

/**
 * `data` as jsonb, for dataEquals. jsonb cannot hold the escape \u0000 (valid JSON, stored fine as text), and one such
 * event would make every search that parses it fail; it is read as U+FFFD instead, for searching only.
 */
const DATA_AS_JSONB = `(CASE WHEN strpos(data, '\\u0000') = 0 THEN data ELSE replace(data, '\\u0000', '\\ufffd') END)::jsonb`;

/** A partition of the events table as the catalog describes it; `from`/`to` null for MINVALUE/MAXVALUE. */
interface PartitionInfo {
  name: string;
  from: number | null;
  to: number | null;
  detachPending: boolean;
}

/** The partitions attached to (or being detached from) the events table, in seq order. */
async function listPartitions(client: pg.PoolClient): Promise<PartitionInfo[]> {
  const { rows } = await client.query<{ name: string; bound: string; pending: boolean }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS pending
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
  );
  const bound = (text: string | undefined): number | null => (text === undefined || /VALUE/.test(text) ? null : Number(text.replace(/'/g, "")));
  return rows
    .map((r) => {
      const m = /FROM \((.+?)\) TO \((.+?)\)/.exec(r.bound);
      return { name: r.name, from: bound(m?.[1]), to: bound(m?.[2]), detachPending: r.pending };
    })
    .sort((a, b) => (a.from ?? -Infinity) - (b.from ?? -Infinity));
}

/** Former partitions detached but not yet dropped (a crash between the two steps). */
async function listDetachedLeftovers(client: pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND NOT c.relispartition
       AND (c.relname LIKE 'events\\_from\\_%' OR c.relname = 'events_before_partitioning')`,
  );
  return rows.map((r) => r.name);
}

/** An insert whose seq no partition covers. */
function isNoPartition(error: unknown): boolean {
  return (error as { code?: string })?.code === "23514" && /no partition/i.test((error as Error).message ?? "");
}

/** A request that PostgreSQL refuses for its content (a NUL character in a text field) fails alone, as a 400. */
function translateRequestError(error: unknown): Error {
  const code = (error as { code?: string })?.code;
  if (code === "22021" || code === "22P05") {
    return new HubError("SB_EVENT_INVALID", "text fields must not contain NUL characters", { cause: error });
  }
  return translateError(error) as Error;
}

/** Connection-level failures become SB_STORE_UNAVAILABLE (503); anything else passes through unchanged. */
function translateError(error: unknown): unknown {
  if (error instanceof HubError) return error;
  const e = error as { code?: string; message?: string };
  const code = e?.code ?? "";
  const connection =
    code.startsWith("08") || // connection exception
    code === "57P01" || // admin shutdown
    code === "57P02" || // crash shutdown
    code === "57P03" || // cannot connect now
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "ENOTFOUND" ||
    code === "ETIMEDOUT" ||
    /Connection terminated|Cannot use a pool after calling end/i.test(e?.message ?? "");
  return connection ? new HubError("SB_STORE_UNAVAILABLE", "the database cannot be reached", { cause: error }) : error;
}

/** The events as the ten column parameters ($1–$10) of the append statements; `data` as an array or joined. */
function eventColumns(events: NewEvent[], data: string[] | string): unknown[] {
  return [
    events.map((e) => e.id),
    events.map((e) => e.topic),
    events.map((e) => e.type),
    events.map((e) => e.source),
    events.map((e) => e.subject),
    events.map((e) => e.time),
    events.map((e) => e.key),
    data,
    events.map((e) => (hasKeys(e.attributes) ? JSON.stringify(e.attributes) : null)),
    events.map((e) => e.receivedAt),
  ];
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** The smallest string greater than every string starting with `prefix`. */
function prefixUpperBound(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
