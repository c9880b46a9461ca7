import type pg from "pg";
import { HubError } from "../../errors.js";
import { checkRepeatedId, checkRepeatedKey, idempotencyScope, type PriorEvent } from "../repeats.js";
import { eventMinutes } from "../rollups.js";
import type { AppendOutcome, AppendRequest, AppendResult, NewEvent, StoredEvent } from "../store.js";
import { eventColumns, headerColumn, minuteColumns, plainParams } from "./pg-append-params.js";
import type { PgAggregates } from "./pg-aggregates.js";
import type { PgPartitions } from "./pg-partitions.js";
import { connectWithDeadline, isNoPartition, translateError, translateRequestError, type PgContext } from "./pg-util.js";
import {
  APPEND_BATCH_SQL,
  APPEND_BATCH_STATEMENT_NAME,
  APPEND_ONE_TRIP_CELLS_SQL,
  APPEND_ONE_TRIP_CELLS_STATEMENT_NAME,
  APPEND_ONE_TRIP_SQL,
  APPEND_ONE_TRIP_STATEMENT_NAME,
  APPEND_SQL,
  APPEND_STATEMENT_NAME,
  BEGIN_APPEND,
  BUMP_TOPICS,
  EXISTING_TOPICS,
  IDEMPOTENCY_GET,
  IDEMPOTENCY_PUT,
  PRIOR_BY_IDS,
  SAVE_LAST_SEQ_AND_NOTIFY,
} from "./sql/append.js";
import { ADD_EVENT_MINUTES } from "./sql/rollups.js";
import { OUTBOX_DELETE, OUTBOX_DELETE_MANY } from "./sql/outbox.js";

/** The one row of the plain append statements: the seq of the batch's first event (the rest follow it). */
type FirstSeqRow = { first: number };

/** Default of {@link PgAppender}'s commit deadline. */
export const DEFAULT_COMMIT_TIMEOUT_MS = 5_000;

/**
 * The appends of the PostgreSQL store: a one-statement path for plain batches and a careful path, each request in a
 * savepoint, for the rest. Both hold the append lock from the first nextval to the commit.
 */
export class PgAppender {
  constructor(
    private readonly ctx: PgContext,
    private readonly partitions: PgPartitions,
    private readonly aggregates: PgAggregates,
    /** An append not done within this (connection, lock, statements, commit) fails with a 503; see connectWithDeadline. */
    private readonly commitTimeoutMs = DEFAULT_COMMIT_TIMEOUT_MS,
  ) {}

  /** Takes the append lock and brings the continuous aggregates' definitions up to date, in one round trip. */
  private async begin(client: pg.PoolClient): Promise<void> {
    const results = (await client.query(BEGIN_APPEND)) as unknown as pg.QueryResult<{ version: string }>[];
    await this.aggregates.sync(client, Number(results.at(-1)!.rows[0]!.version));
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
  async append(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    if (requests.length === 0) return [];
    // Plain requests (the usual case: no idempotency key, no client ids, topics created on demand) need no lookups:
    // the whole batch goes in one statement, one round trip in all (a transaction of four with outbox rows) instead
    // of two or three per request. If that statement fails, one request is at fault: the batch runs again the careful
    // way, each request alone.
    // Outbox relays are plain too: their rows are deleted in one more statement (see deleteOutboxRows).
    const plain = requests.every((r) => r.idempotencyKey === undefined && r.createTopics && r.events.every((e) => !e.clientId));
    if (plain) {
      const events = requests.flatMap((r) => r.events);
      const params = plainParams(events, this.ctx.now(), this.ctx.rollups);
      if (params) {
        // Without outbox rows, in one round trip, the aggregate cells counted with the definitions loaded now; else (or
        // when the aggregates' definitions changed meanwhile, or none are loaded yet) in a transaction.
        const version = this.aggregates.oneTripVersion();
        const oneTrip = version !== undefined && events.length > 0 && requests.every((r) => r.outboxId === undefined);
        const outcomes = oneTrip ? await this.appendOneTrip(requests, [...params, version], this.aggregates.cellsOf([events as StoredEvent[]])) : "stale";
        if (outcomes === "stale") {
          const again = await this.appendPlain(requests, events, params);
          if (again) return again;
        } else if (outcomes) return outcomes;
      }
    }
    return this.appendEach(requests);
  }

  /**
   * The one-round-trip path of {@link append} (APPEND_ONE_TRIP_SQL, or APPEND_ONE_TRIP_CELLS_SQL with `cells`): "stale"
   * when the aggregates' definitions changed (nothing was written), undefined when a request made the statement fail.
   */
  private async appendOneTrip(requests: AppendRequest[], params: unknown[], cells: unknown[] | undefined): Promise<AppendOutcome[] | "stale" | undefined> {
    const { client, done } = await this.ctx.wrap(connectWithDeadline(this.ctx.pool, this.commitTimeoutMs));
    let broken: Error | undefined;
    try {
      let rows: FirstSeqRow[];
      try {
        const query = cells
          ? { name: APPEND_ONE_TRIP_CELLS_STATEMENT_NAME, text: APPEND_ONE_TRIP_CELLS_SQL, values: [...params, ...cells] }
          : { name: APPEND_ONE_TRIP_STATEMENT_NAME, text: APPEND_ONE_TRIP_SQL, values: params };
        ({ rows } = await client.query<FirstSeqRow>(query));
      } catch (error) {
        if (translateError(error) instanceof HubError) throw error; // the database, not a request
        return undefined;
      }
      if (rows.length === 0) return "stale";
      return this.plainOutcomes(requests, rows[0]!.first);
    } catch (error) {
      broken = error as Error;
      throw translateError(error);
    } finally {
      done();
      client.release(broken);
    }
  }

  /** The plain path of {@link append} in a transaction; undefined when a request made the statement fail. */
  private async appendPlain(requests: AppendRequest[], events: NewEvent[], params: unknown[]): Promise<AppendOutcome[] | undefined> {
    const { client, done } = await this.ctx.wrap(connectWithDeadline(this.ctx.pool, this.commitTimeoutMs));
    let broken: Error | undefined;
    try {
      await this.begin(client);
      let rows: FirstSeqRow[];
      try {
        if (!(await this.deleteOutboxRows(client, requests))) {
          await client.query(`ROLLBACK`);
          return undefined;
        }
        ({ rows } = await client.query<FirstSeqRow>({ name: APPEND_BATCH_STATEMENT_NAME, text: APPEND_BATCH_SQL, values: params }));
        // The events' seqs are not needed: the aggregates read their data and time.
        await this.aggregates.addEvents(client, [events as StoredEvent[]]);
      } catch (error) {
        await client.query(`ROLLBACK`).catch((rollbackError: Error) => (broken = rollbackError));
        if (translateError(error) instanceof HubError) throw error; // the database, not a request
        return undefined;
      }
      await client.query(`COMMIT`);
      // No row when the batch holds no event.
      return this.plainOutcomes(requests, rows[0]?.first ?? 0);
    } catch (error) {
      broken ??= error as Error;
      throw translateError(error);
    } finally {
      done();
      client.release(broken);
    }
  }

  /**
   * The outcomes of a committed plain append, whose statement gave the batch's events the seqs from `first` on, in
   * request order (see plainAppendSql). A plain batch has no client ids, so no repeats: every event was stored.
   */
  private plainOutcomes(requests: AppendRequest[], first: number): AppendOutcome[] {
    let seq = first;
    const outcomes = requests.map((request): AppendOutcome => {
      const stored = request.events as StoredEvent[];
      for (const e of stored) e.seq = seq++;
      return { ok: true, results: stored.map((e) => ({ id: e.id, seq: e.seq, topic: e.topic })), stored, replayed: false };
    });
    // Half a partition before the end: create the next one now, off the append path.
    if (seq > first) this.partitions.ensureAhead(seq - 1);
    return outcomes;
  }

  /**
   * Deletes, in one statement, the outbox rows the requests relay; false when one was gone already (another relay
   * took it): the batch then goes the careful way, where that request fails alone.
   */
  private async deleteOutboxRows(client: pg.PoolClient, requests: AppendRequest[]): Promise<boolean> {
    const ids = requests.flatMap((r) => (r.outboxId === undefined ? [] : [r.outboxId]));
    if (ids.length === 0) return true;
    const { rowCount } = await client.query(OUTBOX_DELETE_MANY, [ids]);
    return rowCount === ids.length;
  }

  /** The careful path of {@link append}: each request in a savepoint, so that one failing fails alone. */
  private async appendEach(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    const now = this.ctx.now();
    const { client, done } = await this.ctx.wrap(connectWithDeadline(this.ctx.pool, this.commitTimeoutMs));
    let broken: Error | undefined;
    try {
      await this.begin(client);
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
            await this.partitions.ensure();
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
          await client.query(SAVE_LAST_SEQ_AND_NOTIFY, [lastStored]);
          const entries = [...bumps];
          await client.query(BUMP_TOPICS, [entries.map(([t]) => t), entries.map(([, b]) => b.count), entries.map(([, b]) => b.last)]);
          const lists = outcomes.map((o) => (o.ok ? o.stored : []));
          if (this.ctx.rollups) await client.query(ADD_EVENT_MINUTES, minuteColumns(eventMinutes(lists)));
          await this.aggregates.addEvents(client, lists);
        }
        await client.query(`COMMIT`);
        // Half a partition before the end: create the next one now, off the append path.
        if (lastStored > 0) this.partitions.ensureAhead(lastStored);
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
      done();
      client.release(broken);
    }
  }

  private async appendOne(client: pg.PoolClient, request: AppendRequest, now: number): Promise<AppendOutcome> {
    const { publisher, idempotencyKey, events } = request;
    // Under the append lock: of two relays racing for one row, the second finds it gone.
    if (request.outboxId !== undefined && (await client.query(OUTBOX_DELETE, [request.outboxId])).rowCount === 0) {
      throw new HubError("SB_OUTBOX_RELAYED", `outbox row ${request.outboxId} was relayed already`);
    }
    if (idempotencyKey !== undefined) {
      const replay = await replayByKey(client, request, idempotencyKey);
      if (replay) return replay;
    }
    if (!request.createTopics) await requireTopics(client, events);
    const prior = await priorEvents(client, events);
    const fresh = freshEvents(events, prior, publisher);
    const seqOf = fresh.length > 0 ? await insertEvents(client, fresh, request, now) : new Map<string, number>();
    const { results, stored } = answerEvents(events, prior, seqOf);
    if (idempotencyKey !== undefined) {
      await client.query(IDEMPOTENCY_PUT, [idempotencyScope(publisher), idempotencyKey, JSON.stringify(results), now]);
    }
    return { ok: true, results, stored, replayed: stored.length === 0 && results.length > 0 && events.every((e) => e.clientId) };
  }
}

/** The outcome of the request that first used this Idempotency-Key, or undefined when it is new. */
async function replayByKey(client: pg.PoolClient, request: AppendRequest, idempotencyKey: string): Promise<AppendOutcome | undefined> {
  const prior = await client.query<{ results: AppendResult[] }>(IDEMPOTENCY_GET, [idempotencyScope(request.publisher), idempotencyKey]);
  if (!prior.rows[0]) return undefined;
  checkRepeatedKey(prior.rows[0].results, request.events, request.publisher);
  return { ok: true, results: prior.rows[0].results, stored: [], replayed: true };
}

/**
 * Throws unless every topic of `events` exists. The caller checked; a topic vanished since fails this request only.
 * @throws HubError SB_TOPIC_NOT_FOUND
 */
async function requireTopics(client: pg.PoolClient, events: readonly NewEvent[]): Promise<void> {
  const names = [...new Set(events.map((e) => e.topic))];
  const { rows } = await client.query<{ name: string }>(EXISTING_TOPICS, [names]);
  const existing = new Set(rows.map((r) => r.name));
  const missing = names.find((n) => !existing.has(n));
  if (missing !== undefined) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(missing)} does not exist`);
}

/**
 * The stored events that client-given ids of `events` already name. The table has no unique index on id (it is
 * partitioned by seq), but appends hold the append lock, so nothing can store an id between this check and the
 * insert. Ids the hub generated are new ULIDs: only clients' are looked up.
 */
async function priorEvents(client: pg.PoolClient, events: readonly NewEvent[]): Promise<Map<string, PriorEvent>> {
  const prior = new Map<string, PriorEvent>();
  const clientIds = events.filter((e) => e.clientId).map((e) => e.id);
  if (clientIds.length === 0) return prior;
  const { rows } = await client.query<PriorEvent & { id: string }>(PRIOR_BY_IDS, [clientIds]);
  for (const r of rows) prior.set(r.id, r);
  return prior;
}

/**
 * The events to insert: those whose id is neither stored (`prior`) nor earlier in this request. A repeat is checked
 * against the first event with its id, as if that were stored already (see repeats.ts).
 * @throws HubError SB_EVENT_ID_CONFLICT
 */
function freshEvents(events: readonly NewEvent[], prior: ReadonlyMap<string, PriorEvent>, publisher: string | undefined): NewEvent[] {
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
  return fresh;
}

/** Inserts `fresh` (creating their topics when the request may) and returns the seq given to each id. */
async function insertEvents(client: pg.PoolClient, fresh: NewEvent[], request: AppendRequest, now: number): Promise<Map<string, number>> {
  const { rows } = await client.query<{ id: string; seq: number }>({
    // Named: prepared once per connection, not planned again for every request.
    name: APPEND_STATEMENT_NAME,
    text: APPEND_SQL,
    values: [
      ...eventColumns(
        fresh,
        fresh.map((e) => e.dataJson),
      ),
      fresh.map((e) => (e.clientId ? (request.publisher ?? null) : null)),
      now,
      request.createTopics,
      headerColumn(fresh),
    ],
  });
  return new Map(rows.map((r) => [r.id, r.seq]));
}

/** A result per event, in request order (a repeat gets its first's), and the events stored now, given their seq. */
function answerEvents(events: NewEvent[], prior: ReadonlyMap<string, PriorEvent>, seqOf: ReadonlyMap<string, number>) {
  const firstResult = new Map<string, AppendResult>();
  for (const [id, r] of prior) firstResult.set(id, { id, seq: r.seq, topic: r.topic });
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
  return { results, stored };
}
