import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { HubError } from "../../errors.js";
import type { Ingestor } from "../../ingest/ingestor.js";
import { ENVELOPE_KEYS, eventsFromJson } from "../../ingest/normalize.js";
import { outboxColumns } from "../../store/outbox-rows.js";
import { OUTBOX_INSERT as PG_OUTBOX_INSERT } from "../../store/postgres/sql/outbox.js";
import { OUTBOX_INSERT as SQLITE_OUTBOX_INSERT } from "../../store/sqlite/sql/outbox.js";
import type { NewEvent, Store } from "../../store/store.js";
import { traceparentOf } from "../../telemetry.js";
import type { PublishInput } from "../publish.js";
import { outboxClientOf, type PgOutboxClient, type SqliteOutboxClient } from "./outbox-client.js";

/** What `hub.outbox.publish` answers: the event's id, known before the event is in the log. */
export interface OutboxReceipt {
  id: string;
  topic: string;
}

/** The transactional outbox: events written in the application's own transaction; see {@link createOutbox}. */
export interface Outbox {
  /**
   * Writes the event into the outbox with one INSERT on the application's own SQLite connection to the hub's file,
   * inside its `db.transaction()`: synchronous, as better-sqlite3 transactions are.
   * @throws HubError SB_OUTBOX_CLIENT_INVALID, or SB_EVENT_INVALID / SB_TOPIC_* / SB_EVENT_SCHEMA_MISMATCH for bad
   * input, before anything is written.
   * @example db.transaction(() => { insertOrder(db, order); hub.outbox.publish(db, { topic: "orders.created", data: order }); })();
   */
  publish(db: SqliteOutboxClient, input: PublishInput): OutboxReceipt;
  /**
   * Writes the event into the outbox with one INSERT on the application's `pg` client, inside its transaction. The
   * event enters the log once, after the COMMIT; never after a ROLLBACK.
   * @throws HubError as the SQLite form, synchronously, before anything is sent.
   * @example await client.query("BEGIN"); await hub.outbox.publish(client, { topic: "orders.created", data }); await client.query("COMMIT");
   */
  publish(client: PgOutboxClient, input: PublishInput): Promise<OutboxReceipt>;
}

/** Options of {@link createOutbox}. */
export interface OutboxOptions {
  store: Store;
  ingestor: Pick<Ingestor, "check">;
  now: () => number;
  /** Called after a SQLite insert, once the application's (synchronous) transaction is over: wakes the relay. */
  wake: () => void;
}

/** `hub.outbox`: checks input and the client, then one INSERT in the caller's transaction. */
export function createOutbox({ store, ingestor, now, wake }: OutboxOptions): Outbox {
  const statements = new WeakMap<SqliteOutboxClient, { run(...params: unknown[]): unknown }>();
  const publish = (value: unknown, input: PublishInput): OutboxReceipt | Promise<OutboxReceipt> => {
    const event = outboxEvent(input, now());
    ingestor.check([event]);
    // The application's active span (if an SDK is installed) becomes the event's trace, continued by the relay.
    const active = trace.getSpanContext(context.active());
    if (active && isSpanContextValid(active) && event.attributes.traceparent === undefined) {
      event.attributes = { ...event.attributes, traceparent: traceparentOf(active) };
    }
    const client = outboxClientOf(value, store);
    const { envelope, data } = outboxColumns(event);
    const receipt: OutboxReceipt = { id: event.id, topic: event.topic };
    if (client.dialect === "postgres") return client.client.query(PG_OUTBOX_INSERT, [envelope, data]).then(() => receipt);
    let insert = statements.get(client.db);
    if (!insert) {
      insert = client.db.prepare(SQLITE_OUTBOX_INSERT);
      statements.set(client.db, insert);
    }
    insert.run(envelope, data);
    // better-sqlite3 transactions are synchronous: by the next turn of the loop this one has committed or rolled back.
    setImmediate(wake);
    return receipt;
  };
  return { publish } as Outbox;
}

/**
 * The event of one outbox input, normalised as a library publish is; stricter about the shape, since a mistake here
 * would only show once the application's transaction has committed.
 * @throws HubError SB_EVENT_INVALID (or SB_TOPIC_INVALID)
 */
export function outboxEvent(input: PublishInput, receivedAt: number): NewEvent {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw invalid("give one event: { topic, data, … }");
  const unknown = Object.keys(input).find((k) => !ENVELOPE_KEYS.has(k) || k === "payload");
  if (unknown !== undefined)
    throw invalid(`unknown field ${JSON.stringify(unknown)}; an event has topic, type, id, key, source, subject, time, data, attributes`);
  if (typeof input.topic !== "string" || input.topic === "") throw invalid("the event needs a topic");
  if (!Object.hasOwn(input, "data")) throw invalid("the event has no data");
  const problem = jsonProblem(input.data);
  if (problem !== undefined) throw invalid(`data is not JSON: ${problem}`);
  return eventsFromJson({ ...input }, { receivedAt, maxBatchEvents: 1 }).events[0]!;
}

/** Why `value` is not plain JSON (null, booleans, finite numbers, strings, arrays, plain objects), or undefined. */
function jsonProblem(value: unknown): string | undefined {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): string | undefined => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
    if (typeof v === "number") return Number.isFinite(v) ? undefined : `${path} is ${v}`;
    if (typeof v !== "object") return `${path} is ${v === undefined ? "undefined" : `a ${typeof v}`}`;
    if (seen.has(v)) return `${path} is circular`;
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      return `${path} is a ${(v as object).constructor?.name ?? "object"} (convert it: a Date to an ISO string, a Map to an object…)`;
    }
    seen.add(v);
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.entries(v).map(([k, x]) => [`.${k}`, x]);
    for (const [k, x] of entries) {
      const problem = walk(x, path + k);
      if (problem !== undefined) return problem;
    }
    seen.delete(v);
    return undefined;
  };
  return walk(value, "data");
}

function invalid(details: string): HubError {
  return new HubError("SB_EVENT_INVALID", details);
}
