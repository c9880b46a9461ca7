import type Database from "better-sqlite3";
import { HubError } from "../../errors.js";
import { eventAggregateSql, SQLITE_AGGREGATE, toAggregateRow, type EventAggregateQuery, type EventAggregateRow } from "../aggregate-sql.js";
import { checkRepeatedId, checkRepeatedKey, idempotencyScope, type PriorEvent } from "../repeats.js";
import { hasKeys, type EventColumns } from "../rows.js";
import type { AppendOutcome, AppendRequest, AppendResult, DeleteEventsRequest, EventQuery, EventsPart, NewEvent, StoredEvent } from "../store.js";
import { searchEventsSql } from "./search-events-sql.js";
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
/** The parameters of a row of the plain inserts (`INSERT_PLAIN_EVENTS_64`, `_8`): see {@link plainEventParams}. */
const PLAIN_EVENT_PARAMS = 6;

/** The SQLite event log: appends (group commit, seq given in memory), reads, search and retention. */
export class SqliteEvents implements EventsPart {
  private s!: Record<keyof typeof SQL | "topicGet", Database.Statement>;
  private readonly searchStatements = new Map<string, Database.Statement>();
  // The inserts' parameters, filled in place for each statement.
  private readonly oneRow: unknown[] = new Array(EVENT_PARAMS);
  private readonly fewRows: unknown[] = new Array(FEW_ROWS * EVENT_PARAMS);
  private readonly manyRows: unknown[] = new Array(MANY_ROWS * EVENT_PARAMS);
  private readonly fewPlainRows: unknown[] = new Array(FEW_ROWS * PLAIN_EVENT_PARAMS);
  private readonly manyPlainRows: unknown[] = new Array(MANY_ROWS * PLAIN_EVENT_PARAMS);

  constructor(
    private readonly state: SqliteState,
    private readonly rollups: SqliteRollups,
    private readonly aggregates: SqliteAggregates,
  ) {}

  /** Prepares the statements and reads the next seq; after migrations. */
  init(): void {
    const db = this.state.db;
    this.s = { ...prepareAll(db, SQL), topicGet: db.prepare(TOPIC_GET) };
    for (const read of [this.s.EVENT_BY_ID, this.s.EVENTS_AFTER]) read.raw(true);
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
      for (let r = 0; r < requests.length;) {
        // Runs of plain one-event requests (a group commit of single publishes) share multi-row statements too.
        const singles = singleRun(requests, r, state.knownTopics, newTopics);
        const rows = statementRows(singles);
        if (
          rows > 0 &&
          this.insertRows(
            rows,
            (j) => requests[r + j]!.events[0]!,
            (j) => requests[r + j]!.publisher,
          )
        ) {
          for (const end = r + rows; r < end; r++) {
            const e = requests[r]!.events[0]! as StoredEvent;
            e.seq = state.nextSeq++;
            outcomes.push({ ok: true, results: [{ id: e.id, seq: e.seq, topic: e.topic }], stored: [e], replayed: false });
            foldBump(topicBumps, e.topic, 1, e.receivedAt);
          }
          continue;
        }
        // One by one: the other requests, and a run whose statement failed (a repeated id), each as it would have.
        for (const end = Math.max(r + rows, r + 1); r < end; r++) outcomes.push(this.appendRequest(requests[r]!, now, topicBumps, newTopics));
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

  /** One request of a group commit: stored all or nothing (a savepoint unless it writes one row), or failed alone. */
  private appendRequest(request: AppendRequest, now: number, topicBumps: Bumps, newTopics: string[]): AppendOutcome {
    const state = this.state;
    const requestStartSeq = state.nextSeq;
    const newTopicsMark = newTopics.length;
    try {
      // A request that writes one row needs no savepoint: it fails before writing or not at all. Others get
      // one (a nested transaction), so each request stands or falls alone.
      const singleWrite = request.events.length === 1 && request.idempotencyKey === undefined && request.outboxId === undefined;
      return singleWrite
        ? this.appendOne(request, now, topicBumps, newTopics)
        : state.db.transaction(() => this.appendOne(request, now, topicBumps, newTopics))();
    } catch (error) {
      // SQLite may roll the whole transaction back on some errors (a full disk, an I/O error): then the requests
      // after this one would commit one by one, outside it. Fail the whole batch instead.
      if (!state.db.inTransaction) throw error;
      state.nextSeq = requestStartSeq;
      newTopics.length = newTopicsMark;
      return { ok: false, error: translateSqliteError(error) as Error };
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
    const tally = new TopicTally();
    const keep = (e: NewEvent, seq: number): void => {
      results.push({ id: e.id, seq, topic: e.topic });
      // The request owns its events: give this one its seq in place rather than copy it.
      const committed = e as StoredEvent;
      committed.seq = seq;
      stored.push(committed);
      tally.add(e.topic, e.receivedAt);
    };
    const { events } = request;
    for (let i = 0; i < events.length;) {
      // Runs of events to topics that exist go in multi-row statements (64 rows, then 8); the rest one by one.
      const run = knownRun(events, i, state.knownTopics, newTopics);
      const rows = statementRows(run);
      if (
        rows > 0 &&
        this.insertRows(
          rows,
          (j) => events[i + j]!,
          () => publisher,
        )
      ) {
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
    tally.foldInto(topicBumps);
    return { ok: true, results, stored, replayed: stored.length === 0 && results.length > 0 && request.events.every((e) => e.clientId) };
  }

  /**
   * Stores `rows` events (the j-th is `eventAt(j)`, published by `publisherAt(j)`) in one statement, with the seqs from
   * the next one on (not taken yet: the caller takes them on success). False when not every row was stored (a
   * repeated id) or the statement failed: the rows it stored are taken back, and the caller then stores the events one
   * by one, as it would have, and meets the same repeat or error there.
   */
  private insertRows(rows: number, eventAt: (j: number) => NewEvent, publisherAt: (j: number) => string | undefined): boolean {
    const many = rows === MANY_ROWS;
    const seq = this.state.nextSeq;
    let plain = true;
    for (let j = 0; plain && j < rows; j++) plain = isPlain(eventAt(j), publisherAt(j));
    const params = plain ? (many ? this.manyPlainRows : this.fewPlainRows) : many ? this.manyRows : this.fewRows;
    const width = plain ? PLAIN_EVENT_PARAMS : EVENT_PARAMS;
    for (let j = 0; j < rows; j++) {
      if (plain) plainEventParams(eventAt(j), seq + j, params, j * width);
      else eventParams(eventAt(j), seq + j, publisherAt(j), params, j * width);
    }
    const s = this.s;
    try {
      const statement = plain ? (many ? s.INSERT_PLAIN_EVENTS_64 : s.INSERT_PLAIN_EVENTS_8) : many ? s.INSERT_EVENTS_64 : s.INSERT_EVENTS_8;
      if (statement.run(params).changes === rows) return true;
    } catch (error) {
      // Rolled back further than the statement (a full disk, an I/O error): the whole batch fails, as one by one.
      if (!this.state.db.inTransaction) throw error;
    }
    // OR IGNORE skipped a row, or the statement failed with no journal to undo it: take back the rows it stored.
    for (let j = 0; j < rows; j++) s.DELETE_STORED_ROW.run(seq + j, params[j * width + 1]);
    return false;
  }

  /** SQLite has no percentile function: aggregations with percentiles read the events instead. */
  readonly aggregatesPercentiles = false;

  async aggregate(q: EventAggregateQuery): Promise<EventAggregateRow[]> {
    if (q.percentiles?.length) throw new Error("the SQLite store does not compute percentiles");
    const { sql, params } = eventAggregateSql(q, SQLITE_AGGREGATE);
    return (this.cachedStatement(sql).all(...params) as Array<Record<string, unknown>>).map((r) => toAggregateRow(r, q));
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const columns = this.s.EVENT_BY_ID.get(id) as EventColumns | undefined;
    return columns && SQLITE_ROWS.toEventFromColumns(columns);
  }

  async readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return (this.s.EVENTS_AFTER.all(afterSeq, limit) as EventColumns[]).map(SQLITE_ROWS.toEventFromColumns);
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
    return (this.cachedStatement(sql, true).all(...params) as EventColumns[]).map(SQLITE_ROWS.toEventFromColumns);
  }

  /** Searches build their SQL from the parameters given; the few shapes in use are prepared once (`raw`: in raw mode). */
  private cachedStatement(sql: string, raw = false): Database.Statement {
    let stmt = this.searchStatements.get(sql);
    if (!stmt) {
      if (this.searchStatements.size >= 256) this.searchStatements.clear();
      stmt = this.state.db.prepare(sql).raw(raw);
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

function foldBump(bumps: Bumps, topic: string, count: number, last: number): void {
  const bump = bumps.get(topic);
  if (bump) {
    bump.count += count;
    if (last > bump.last) bump.last = last;
  } else bumps.set(topic, { count, last });
}

/** The rows of the multi-row statement that takes the start of a run of `run` events: 64, 8, or 0 (one by one). */
function statementRows(run: number): number {
  return run === MANY_ROWS ? MANY_ROWS : run >= FEW_ROWS ? FEW_ROWS : 0;
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

/**
 * How many requests from `from` on (at most {@link MANY_ROWS}) are one event to a topic that exists, with no
 * Idempotency-Key or outbox row: each is that one row, stored or not, and needs no savepoint.
 */
function singleRun(requests: readonly AppendRequest[], from: number, known: ReadonlySet<string>, created: readonly string[]): number {
  const end = Math.min(requests.length, from + MANY_ROWS);
  let i = from;
  for (; i < end; i++) {
    const r = requests[i]!;
    if (r.events.length !== 1 || r.idempotencyKey !== undefined || r.outboxId !== undefined) break;
    const t = r.events[0]!.topic;
    if (!known.has(t) && !created.includes(t)) break;
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

/** Whether an event's row has only the columns every event has: the plain inserts leave the others NULL. */
function isPlain(e: NewEvent, publisher: string | undefined): boolean {
  return (
    e.type === null &&
    e.source === null &&
    e.subject === null &&
    e.key === null &&
    !hasKeys(e.attributes) &&
    !(e.clientId && publisher !== undefined) &&
    !(e.headers && hasKeys(e.headers))
  );
}

/** Writes a plain event's row (see {@link isPlain}) into `params` from `at`, in `PLAIN_EVENT_COLUMNS`' order. */
function plainEventParams(e: NewEvent, seq: number, params: unknown[], at: number): void {
  params[at] = seq;
  params[at + 1] = e.id;
  params[at + 2] = e.topic;
  params[at + 3] = e.time;
  params[at + 4] = e.dataJson;
  params[at + 5] = e.receivedAt;
}

/** A request's counts per topic: the first topic in fields (requests are mostly one topic), others in a map. */
class TopicTally {
  private topic: string | undefined;
  private count = 0;
  private last = 0;
  private others: Bumps | undefined;

  add(topic: string, receivedAt: number): void {
    if (this.topic === undefined || this.topic === topic) {
      this.topic = topic;
      this.count++;
      if (receivedAt > this.last) this.last = receivedAt;
      return;
    }
    this.others ??= new Map();
    const b = this.others.get(topic);
    if (b) {
      b.count++;
      if (receivedAt > b.last) b.last = receivedAt;
    } else this.others.set(topic, { count: 1, last: receivedAt });
  }

  /** Adds the counts to a batch's. */
  foldInto(bumps: Bumps): void {
    if (this.topic !== undefined) foldBump(bumps, this.topic, this.count, this.last);
    if (this.others) for (const [topic, b] of this.others) foldBump(bumps, topic, b.count, b.last);
  }
}
