import type Database from "better-sqlite3";
import { HubError } from "../../errors.js";
import { eventAggregateSql, SQLITE_AGGREGATE, toAggregateRow, type EventAggregateQuery, type EventAggregateRow } from "../aggregate-sql.js";
import { checkRepeatedId, checkRepeatedKey, idempotencyScope, type PriorEvent } from "../repeats.js";
import { hasKeys, prefixUpperBound, type EventRow } from "../rows.js";
import type { AppendOutcome, AppendRequest, AppendResult, DeleteEventsRequest, EventQuery, EventsPart, NewEvent, StoredEvent } from "../store.js";
import * as SQL from "./sql/events.js";
import { TOPIC_GET } from "./sql/topics.js";
import type { SqliteAggregates } from "./sqlite-aggregates.js";
import type { SqliteRollups } from "./sqlite-rollups.js";
import { translateSqliteError } from "./sqlite-errors.js";
import { prepareAll, SQLITE_ROWS, type SqliteState } from "./sqlite-state.js";

type Bumps = Map<string, { count: number; last: number }>;

/** The rows of the multi-row inserts (`INSERT_EVENTS_64`, `INSERT_EVENTS_8`), and the parameters of one row. */
const MANY_ROWS = 64;
const FEW_ROWS = 8;
const EVENT_PARAMS = 13;

/** The SQLite event log: appends (group commit, seq given in memory), reads, search and retention. */
export class SqliteEvents implements EventsPart {
  private s!: Record<keyof typeof SQL | "topicGet", Database.Statement>;
  private readonly searchStatements = new Map<string, Database.Statement>();
  // The inserts' parameters, filled in place for each statement.
  private readonly oneRow: unknown[] = new Array(EVENT_PARAMS);
  private readonly fewRows: unknown[] = new Array(FEW_ROWS * EVENT_PARAMS);
  private readonly manyRows: unknown[] = new Array(MANY_ROWS * EVENT_PARAMS);

  constructor(
    private readonly state: SqliteState,
    private readonly rollups: SqliteRollups,
    private readonly aggregates: SqliteAggregates,
  ) {}

  /** Prepares the statements and reads the next seq; after migrations. */
  init(): void {
    const db = this.state.db;
    this.s = { ...prepareAll(db, SQL), topicGet: db.prepare(TOPIC_GET) };
    this.state.nextSeq = (this.s.LAST_SEQ.get() as { seq: number }).seq + 1;
  }

  async append(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    const state = this.state;
    const now = state.now();
    const startSeq = state.nextSeq;
    const newTopics: string[] = [];
    const run = state.db.transaction(() => {
      const outcomes: AppendOutcome[] = [];
      const topicBumps: Bumps = new Map();
      for (const request of requests) {
        const requestStartSeq = state.nextSeq;
        const newTopicsMark = newTopics.length;
        try {
          // A request that writes one row needs no savepoint: it fails before writing or not at all. Others get
          // one (a nested transaction), so each request stands or falls alone.
          const singleWrite = request.events.length === 1 && request.idempotencyKey === undefined && request.outboxId === undefined;
          outcomes.push(
            singleWrite
              ? this.appendOne(request, now, topicBumps, newTopics)
              : state.db.transaction(() => this.appendOne(request, now, topicBumps, newTopics))(),
          );
        } catch (error) {
          // SQLite may roll the whole transaction back on some errors (a full disk, an I/O error): then the requests
          // after this one would commit one by one, outside it. Fail the whole batch instead.
          if (!state.db.inTransaction) throw error;
          state.nextSeq = requestStartSeq;
          newTopics.length = newTopicsMark;
          outcomes.push({ ok: false, error: translateSqliteError(error) as Error });
        }
      }
      for (const [topic, bump] of topicBumps) this.s.BUMP_TOPIC.run(bump.count, bump.last, topic);
      if (state.nextSeq !== startSeq) {
        this.s.SAVE_LAST_SEQ.run(state.nextSeq - 1);
        const lists = outcomes.map((o) => (o.ok ? o.stored : []));
        this.rollups.addEvents(lists);
        this.aggregates.addEvents(lists);
      }
      return outcomes;
    });
    try {
      const outcomes = run.immediate();
      for (const t of newTopics) state.knownTopics.add(t);
      return outcomes;
    } catch (error) {
      state.nextSeq = startSeq;
      throw translateSqliteError(error);
    }
  }

  private appendOne(request: AppendRequest, now: number, topicBumps: Bumps, newTopics: string[]): AppendOutcome {
    const s = this.s;
    const state = this.state;
    const { publisher } = request;
    if (request.outboxId !== undefined && s.OUTBOX_DELETE.run(request.outboxId).changes === 0) {
      throw new HubError("SB_OUTBOX_RELAYED", `outbox row ${request.outboxId} was relayed already`);
    }
    if (request.idempotencyKey !== undefined) {
      const prior = s.IDEMPOTENCY_GET.get(idempotencyScope(publisher), request.idempotencyKey) as { results: string } | undefined;
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
    let otherBumps: Bumps | undefined;
    const keep = (e: NewEvent, seq: number): void => {
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
    };
    const { events } = request;
    for (let i = 0; i < events.length;) {
      // Runs of events to topics that exist go in multi-row statements (64 rows, then 8); the rest one by one.
      const run = knownRun(events, i, state.knownTopics, newTopics);
      const rows = run === MANY_ROWS ? MANY_ROWS : run >= FEW_ROWS ? FEW_ROWS : 0;
      if (rows > 0 && this.insertRows(events, i, rows, publisher)) {
        for (let j = i; j < i + rows; j++) keep(events[j]!, state.nextSeq++);
        i += rows;
        continue;
      }
      // One by one: the events to topics not known yet, the few left after the runs, and a run a repeated id aborted.
      for (const end = Math.max(i + rows, i + 1); i < end; i++) {
        const e = events[i]!;
        const unknownTopic = !state.knownTopics.has(e.topic) && !newTopics.includes(e.topic);
        if (unknownTopic && !request.createTopics && !s.topicGet.get(e.topic)) {
          // The caller checked; the topic vanished since. Fail this request only.
          throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(e.topic)} does not exist`);
        }
        const seq = state.nextSeq;
        if (s.INSERT_EVENT.run(eventParams(e, seq, publisher, this.oneRow, 0)).changes === 0) {
          // A repeat of a client-given id: answer with the first result, store nothing (or refuse: see repeats.ts).
          const prior = s.PRIOR_BY_ID.get(e.id) as PriorEvent;
          checkRepeatedId(prior, e, publisher);
          results.push({ id: e.id, seq: prior.seq, topic: prior.topic });
          continue;
        }
        // Created only once an event is really stored in it: a repeated id names no new topic.
        if (unknownTopic && request.createTopics && s.ENSURE_TOPIC.run(e.topic, now, now).changes > 0) newTopics.push(e.topic);
        state.nextSeq = seq + 1;
        keep(e, seq);
      }
    }
    if (request.idempotencyKey !== undefined) s.IDEMPOTENCY_PUT.run(idempotencyScope(publisher), request.idempotencyKey, JSON.stringify(results), now);
    if (bumpTopic !== undefined) foldBump(topicBumps, bumpTopic, bumpCount, bumpLast);
    if (otherBumps) for (const [topic, b] of otherBumps) foldBump(topicBumps, topic, b.count, b.last);
    return { ok: true, results, stored, replayed: stored.length === 0 && results.length > 0 && request.events.every((e) => e.clientId) };
  }

  /**
   * Stores `rows` events from `from` in one statement, with the seqs from the next one on (not taken yet: the caller
   * takes them on success). False when a constraint aborted the statement (a repeated id), which then stored nothing.
   */
  private insertRows(events: readonly NewEvent[], from: number, rows: number, publisher: string | undefined): boolean {
    const params = rows === MANY_ROWS ? this.manyRows : this.fewRows;
    const seq = this.state.nextSeq;
    for (let j = 0; j < rows; j++) eventParams(events[from + j]!, seq + j, publisher, params, j * EVENT_PARAMS);
    try {
      (rows === MANY_ROWS ? this.s.INSERT_EVENTS_64 : this.s.INSERT_EVENTS_8).run(params);
      return true;
    } catch (error) {
      // SQLite undid the statement and kept the transaction (ABORT); anything worse, or any other error, goes up.
      if (this.state.db.inTransaction && String((error as { code?: unknown }).code).startsWith("SQLITE_CONSTRAINT")) return false;
      throw error;
    }
  }

  /** SQLite has no percentile function: aggregations with percentiles read the events instead. */
  readonly aggregatesPercentiles = false;

  async aggregate(q: EventAggregateQuery): Promise<EventAggregateRow[]> {
    if (q.percentiles?.length) throw new Error("the SQLite store does not compute percentiles");
    const { sql, params } = eventAggregateSql(q, SQLITE_AGGREGATE);
    return (this.cachedStatement(sql).all(...params) as Array<Record<string, unknown>>).map((r) => toAggregateRow(r, q));
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const row = this.s.EVENT_BY_ID.get(id) as EventRow | undefined;
    return row && SQLITE_ROWS.toEvent(row);
  }

  async readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return (this.s.EVENTS_AFTER.all(afterSeq, limit) as EventRow[]).map(SQLITE_ROWS.toEvent);
  }

  async lastSeq(): Promise<number> {
    return this.state.nextSeq - 1;
  }

  async firstSeq(): Promise<number | undefined> {
    return (this.s.FIRST_SEQ.get() as { seq: number | null }).seq ?? undefined;
  }

  /** Binary search over seq: received_at grows with seq (up to the few ms a group commit spans). */
  async seqBefore(ms: number): Promise<number> {
    const { lo, hi } = this.s.SEQ_BOUNDS.get() as { lo: number | null; hi: number | null };
    if (lo === null || hi === null) return 0;
    let low = lo;
    let high = hi + 1; // first seq received at or after ms lies in [low, high]
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const row = this.s.RECEIVED_AT_FROM_SEQ.get(mid) as { received_at: number } | undefined;
      if (row === undefined || row.received_at >= ms) high = mid;
      else low = mid + 1;
    }
    return low - 1;
  }

  async search(q: EventQuery): Promise<StoredEvent[]> {
    const { sql, params } = searchEventsSql(q);
    return (this.cachedStatement(sql).all(...params) as EventRow[]).map(SQLITE_ROWS.toEvent);
  }

  /** Searches build their SQL from the parameters given; the few shapes in use are prepared once. */
  private cachedStatement(sql: string): Database.Statement {
    let stmt = this.searchStatements.get(sql);
    if (!stmt) {
      if (this.searchStatements.size >= 256) this.searchStatements.clear();
      stmt = this.state.db.prepare(sql);
      this.searchStatements.set(sql, stmt);
    }
    return stmt;
  }

  async deleteBefore({ topic, receivedBefore, limit }: DeleteEventsRequest): Promise<number> {
    return this.state.db
      .transaction(() => {
        const removed = this.s.DELETE_OLD_EVENTS.run(topic, receivedBefore, limit).changes;
        if (removed > 0) this.s.LOWER_TOPIC_COUNT.run(removed, topic);
        return removed;
      })
      .immediate();
  }
}

/** The SELECT of an event search and its parameters. */
export function searchEventsSql(q: EventQuery): { sql: string; params: unknown[] } {
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
  const term = (sql: string, value: unknown): void => {
    where.push(sql);
    params.push(value);
  };
  if (q.type !== undefined) term(`type = ?`, q.type);
  if (q.key !== undefined) term(`key = ?`, q.key);
  if (q.fromTime !== undefined) term(`time >= ?`, q.fromTime);
  if (q.toTime !== undefined) term(`time < ?`, q.toTime);
  for (const { field, value } of q.dataEquals ?? []) {
    const path = `$."${field}"`;
    if (value === null) term(`json_type(data, ?) = 'null'`, path);
    else if (typeof value === "boolean") {
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
  return { sql, params };
}

function foldBump(bumps: Bumps, topic: string, count: number, last: number): void {
  const bump = bumps.get(topic);
  if (bump) {
    bump.count += count;
    if (last > bump.last) bump.last = last;
  } else bumps.set(topic, { count, last });
}

/**
 * How many events from `from` on (at most {@link MANY_ROWS}) go to topics that exist: those need no check or creation
 * between their inserts.
 */
function knownRun(events: readonly NewEvent[], from: number, known: ReadonlySet<string>, created: readonly string[]): number {
  const end = Math.min(events.length, from + MANY_ROWS);
  let topic: string | undefined;
  let i = from;
  for (; i < end; i++) {
    const t = events[i]!.topic;
    if (t === topic) continue;
    if (!known.has(t) && !created.includes(t)) break;
    topic = t;
  }
  return i - from;
}

/** Writes an event's row, as the inserts take it, into `params` from `at` (see `INSERT_EVENT` for the columns). */
function eventParams(e: NewEvent, seq: number, publisher: string | undefined, params: unknown[], at: number): unknown[] {
  params[at] = seq;
  params[at + 1] = e.id;
  params[at + 2] = e.topic;
  params[at + 3] = e.type;
  params[at + 4] = e.source;
  params[at + 5] = e.subject;
  params[at + 6] = e.time;
  params[at + 7] = e.key;
  params[at + 8] = e.dataJson;
  params[at + 9] = hasKeys(e.attributes) ? JSON.stringify(e.attributes) : null;
  params[at + 10] = e.receivedAt;
  params[at + 11] = e.clientId ? (publisher ?? null) : null;
  params[at + 12] = e.headers && hasKeys(e.headers) ? JSON.stringify(e.headers) : null;
  return params;
}
