/**
 * Rows of the event, topic, subscription and API key tables, and their mapping to the store's types, for both
 * dialects. They differ only in how a JSON column arrives (text in SQLite, parsed in PostgreSQL) and in booleans
 * (0/1 in SQLite): each dialect passes its {@link JsonColumn} decoder.
 */
import type { ApiKey, FilterSyntax, NewEvent, StoredEvent, Subscription, Topic, TopicInput } from "./store.js";

/** Turns a JSON column, as the driver returns it, into its value (null stays null). */
export type JsonColumn = (value: unknown) => unknown;

/** SQLite: JSON columns are text. */
export const parseJsonText: JsonColumn = (value) => (value === null ? null : JSON.parse(value as string));

/** PostgreSQL: json and jsonb columns arrive parsed. */
export const jsonAsIs: JsonColumn = (value) => value ?? null;

/** A row of `events`: the columns named as the event's fields, and the rest. */
export interface EventRow extends Pick<NewEvent, "id" | "topic" | "type" | "source" | "subject" | "time" | "key"> {
  seq: number;
  data: string;
  attributes: unknown;
  received_at: number;
  /** Captured request headers (migration 0016); absent in rows read by statements that do not select it. */
  headers?: unknown;
}

/** A row of `topics`. */
export interface TopicRow {
  name: string;
  description: string | null;
  schema: unknown;
  origin_host: string | null;
  created_at: number;
  updated_at: number;
  event_count: number;
  last_event_at: number | null;
  retention_ms: number | null;
  storage: string;
}

/** A row of `api_keys`. */
export interface ApiKeyRow {
  id: string;
  name: string | null;
  hash: string;
  prefix: string;
  scopes: unknown;
  created_at: number;
  revoked_at: number | null;
}

/** A row of `subscriptions`. */
export interface SubscriptionRow {
  id: string;
  topic: string;
  url: string;
  filter: string | null;
  headers: unknown;
  secret: string;
  previous_secret?: string | null;
  previous_secret_until?: number | string | null;
  active: number | boolean;
  disabled_reason: string | null;
  ordering: "none" | "key";
  retry_schedule: unknown;
  timeout_ms: number;
  max_in_flight: number;
  rate_limit: number | null;
  body: "data" | "envelope";
  cursor_seq: number;
  failing_since: number | null;
  priority: number;
  created_at: number;
  updated_at: number;
  filter_syntax?: string;
  filter_source?: string | null;
}

const EMPTY_ATTRIBUTES: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * The columns an event is read with in raw (array) mode, in the order of {@link EventColumns}: better-sqlite3 builds
 * an array of a row's values in half the time of an object keyed by column (2.9 against 6.1 µs an event measured).
 */
export const EVENT_READ_COLUMNS = "seq, id, topic, type, source, subject, time, key, data, attributes, received_at, headers";

/** A row of `events` read as {@link EVENT_READ_COLUMNS}. */
export type EventColumns = [
  seq: number,
  id: string,
  topic: string,
  type: string | null,
  source: string | null,
  subject: string | null,
  time: number,
  key: string | null,
  data: string,
  attributes: unknown,
  receivedAt: number,
  headers: unknown,
];

/** The mappers of one dialect. */
export interface RowMappers {
  toEvent(row: EventRow): StoredEvent;
  /** An event read as {@link EVENT_READ_COLUMNS} in raw mode. */
  toEventFromColumns(columns: EventColumns): StoredEvent;
  toTopic(row: TopicRow): Topic;
  toApiKey(row: ApiKeyRow): ApiKey;
  toSubscription(row: SubscriptionRow): Subscription;
}

/** The row mappers of a dialect whose JSON columns `json` decodes. */
export function rowMappers(json: JsonColumn): RowMappers {
  // Headers are set after the literal: a conditional spread in it cost more than the rest of the mapping.
  const event = (...[seq, id, topic, type, source, subject, time, key, data, attributes, receivedAt, headers]: EventColumns): StoredEvent => {
    const e: StoredEvent = {
      seq,
      id,
      clientId: false,
      topic,
      type,
      source,
      subject,
      time,
      key,
      dataJson: data,
      data: JSON.parse(data),
      attributes: attributes ? (json(attributes) as Record<string, string>) : EMPTY_ATTRIBUTES,
      receivedAt,
    };
    if (headers != null) e.headers = json(headers) as Record<string, string>;
    return e;
  };
  return {
    toEvent: (row) =>
      event(row.seq, row.id, row.topic, row.type, row.source, row.subject, row.time, row.key, row.data, row.attributes, row.received_at, row.headers),
    toEventFromColumns: (columns) => event(...columns),
    toTopic: (row) => ({
      name: row.name,
      description: row.description,
      schema: json(row.schema),
      originHost: row.origin_host,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      eventCount: row.event_count,
      lastEventAt: row.last_event_at,
      retentionMs: row.retention_ms,
      storage: row.storage === "none" ? "none" : "log",
    }),
    toApiKey: (row) => ({
      id: row.id,
      name: row.name,
      hash: row.hash,
      prefix: row.prefix,
      scopes: json(row.scopes) as string[],
      createdAt: row.created_at,
      revokedAt: row.revoked_at,
    }),
    toSubscription: (r) => ({
      id: r.id,
      topic: r.topic,
      url: r.url,
      filter: r.filter,
      headers: json(r.headers) as Record<string, string>,
      secret: r.secret,
      // Only while a rotation's previous secret is kept: a subscription never rotated reads as before.
      ...(r.previous_secret == null
        ? {}
        : { previousSecret: r.previous_secret, previousSecretUntil: r.previous_secret_until == null ? null : Number(r.previous_secret_until) }),
      // Only for a filter written in another syntax than CEL: a CEL subscription reads as before.
      ...(r.filter_source == null ? {} : { filterSyntax: r.filter_syntax as FilterSyntax, filterSource: r.filter_source }),
      active: r.active === 1 || r.active === true,
      disabledReason: r.disabled_reason,
      ordering: r.ordering,
      retrySchedule: json(r.retry_schedule) as number[],
      timeoutMs: r.timeout_ms,
      maxInFlight: r.max_in_flight,
      rateLimit: r.rate_limit,
      body: r.body,
      cursorSeq: r.cursor_seq,
      failingSince: r.failing_since,
      priority: r.priority,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }),
  };
}

/** Column and value conversion for each patchable subscription field (JSON fields as text, for both dialects). */
export const SUBSCRIPTION_PATCH_COLUMNS: Record<string, [column: string, toValue: (v: unknown) => unknown]> = {
  topic: ["topic", (v) => v],
  url: ["url", (v) => v],
  filter: ["filter", (v) => v],
  filterSyntax: ["filter_syntax", (v) => v],
  filterSource: ["filter_source", (v) => v],
  headers: ["headers", (v) => JSON.stringify(v)],
  secret: ["secret", (v) => v],
  previousSecret: ["previous_secret", (v) => v],
  previousSecretUntil: ["previous_secret_until", (v) => v],
  active: ["active", (v) => v],
  disabledReason: ["disabled_reason", (v) => v],
  ordering: ["ordering", (v) => v],
  retrySchedule: ["retry_schedule", (v) => JSON.stringify(v)],
  timeoutMs: ["timeout_ms", (v) => v],
  maxInFlight: ["max_in_flight", (v) => v],
  rateLimit: ["rate_limit", (v) => v],
  body: ["body", (v) => v],
  failingSince: ["failing_since", (v) => v],
  priority: ["priority", (v) => v],
};

/** A new topic's name, description, schema (JSON text), origin host, retention and storage: the columns both inserts take first. */
export function topicColumns(input: TopicInput): unknown[] {
  return [
    input.name,
    input.description ?? null,
    input.schema == null ? null : JSON.stringify(input.schema),
    input.originHost ?? null,
    input.retentionMs ?? null,
    input.storage ?? "log",
  ];
}

/** The smallest string greater than every string starting with `prefix`. */
export function prefixUpperBound(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Whether an object has an own enumerable key (cheaper than `Object.keys(o).length`). */
export function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}
