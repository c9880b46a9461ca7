import { HubError } from "../errors.js";
import { newEventId } from "../ids.js";
import { topicNameProblem } from "../routing/topic-pattern.js";
import type { NewEvent } from "../store/store.js";
import { parseTime } from "../time.js";
import { MAX_CAPTURED_HEADER_BYTES } from "./captured-headers.js";
import { EVENT_LIMITS } from "./limits.js";
import { compact, elementSpans, memberSpan, wholeSpan, type Span } from "./raw-json.js";

/**
 * Turns what clients post into validated {@link NewEvent}s. No HTTP types here: the transport passes the parsed
 * body and the few request facts that matter.
 *
 * A JSON object is an envelope when it has `data` or `payload` and every other key is an envelope field; any other
 * JSON value is the event's data itself. An array is a batch of either.
 */

/** The envelope fields a client may set. */
export const ENVELOPE_KEYS: ReadonlySet<string> = new Set(["topic", "type", "id", "key", "source", "subject", "time", "data", "payload", "attributes"]);

/** What a request says about its events besides the body. */
export interface IngestContext {
  /** Topic from the path or `?topic=`; events that name none use it, else `default`. */
  topic?: string;
  /** When set, the path fixes the topic: the body is data, never an envelope. */
  bodyIsData?: boolean;
  /** Receive time, epoch ms. */
  receivedAt: number;
  /** Most events a batch may hold. */
  maxBatchEvents: number;
  /** The body's JSON text, when the transport has it: each event's data is then stored exactly as posted. */
  rawBody?: string;
}

/** The members that hold an envelope's data, and a CloudEvent's: a batch's walk finds them (raw-json.ts's elementSpans). */
const DATA_KEYS: readonly string[] = ["data", "payload"];
const CE_DATA_KEYS: readonly string[] = ["data"];

/** The default topic of events that name none. */
export const DEFAULT_TOPIC = "default";

/**
 * Events from a plain JSON body (`application/json`).
 * @returns the events and whether the body was a batch (an array).
 */
export function eventsFromJson(body: unknown, ctx: IngestContext): { events: NewEvent[]; batch: boolean } {
  const top = ctx.rawBody === undefined ? undefined : wholeSpan(ctx.rawBody);
  if (Array.isArray(body)) {
    checkBatch(body, ctx);
    const spans = top && elementSpans(ctx.rawBody!, top, DATA_KEYS);
    return { events: body.map((item, i) => eventFromItem(item, ctx, `[${i}]`, spans?.[i])), batch: true };
  }
  return { events: [eventFromItem(body, ctx, "", top)], batch: false };
}

function eventFromItem(item: unknown, ctx: IngestContext, where: string, span: Span | undefined): NewEvent {
  if (!ctx.bodyIsData && isEnvelope(item)) return fromEnvelope(item, ctx, where, span);
  return buildEvent({ data: item }, ctx, where, span);
}

/**
 * Fields of an exported envelope that an import reads past (the store gives each event a new seq and receive time),
 * or takes apart from the envelope (`headers`, which the hub captured from the publish request).
 */
const EXPORT_ONLY_KEYS: ReadonlySet<string> = new Set(["seq", "received_at", "deliveries", "headers"]);

/**
 * Events to import (`POST /events/import`): an array of envelopes as the API shows them (an export's lines), each
 * with its id, which the import keeps, and its captured `headers` if any. `seq`, `received_at` and `deliveries` are
 * read past.
 */
export function eventsForImport(body: unknown, ctx: IngestContext): NewEvent[] {
  if (!Array.isArray(body)) throw invalid("", "an import is an array of events (or NDJSON, one event a line)");
  const spans = ctx.rawBody === undefined ? undefined : elementSpans(ctx.rawBody, wholeSpan(ctx.rawBody), DATA_KEYS);
  return body.map((item, i) => {
    const where = `[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw invalid(where, "each imported event must be an object");
    const env = Object.fromEntries(Object.entries(item).filter(([k]) => !EXPORT_ONLY_KEYS.has(k)));
    if (typeof env.id !== "string") throw invalid(where, "an imported event must have its id");
    if (!isEnvelope(env)) throw invalid(where, `an imported event is an envelope with data and the fields ${[...ENVELOPE_KEYS].join(", ")}`);
    const event = fromEnvelope(env, ctx, where, spans?.[i]);
    const headers = importedHeaders((item as Record<string, unknown>).headers, where);
    if (headers) event.headers = headers;
    return event;
  });
}

/** True for an object that has `data` or `payload` and no key outside the envelope's. */
export function isEnvelope(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (!Object.hasOwn(value, "data") && !Object.hasOwn(value, "payload")) return false;
  for (const k of Object.keys(value)) if (!ENVELOPE_KEYS.has(k)) return false;
  return true;
}

function fromEnvelope(env: Record<string, unknown>, ctx: IngestContext, where: string, span: Span | undefined): NewEvent {
  if (Object.hasOwn(env, "data") && Object.hasOwn(env, "payload")) {
    throw invalid(where, "give either data or payload, not both");
  }
  const dataKey = Object.hasOwn(env, "data") ? "data" : "payload";
  return buildEvent(
    {
      topic: env.topic,
      type: env.type,
      id: env.id,
      key: env.key,
      source: env.source,
      subject: env.subject,
      time: env.time,
      data: env[dataKey],
      attributes: env.attributes,
    },
    ctx,
    where,
    span && memberSpan(ctx.rawBody!, span, dataKey),
  );
}

/** CloudEvents 1.0 context attributes that are not extensions. */
const CE_CORE = new Set(["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"]);

/** Events from a CloudEvents structured-mode body (`application/cloudevents+json` or `-batch+json`). */
export function eventsFromCloudEvents(body: unknown, ctx: IngestContext, batchMode: boolean): { events: NewEvent[]; batch: boolean } {
  const top = ctx.rawBody === undefined ? undefined : wholeSpan(ctx.rawBody);
  if (batchMode) {
    if (!Array.isArray(body)) throw invalid("", "a CloudEvents batch must be a JSON array");
    checkBatch(body, ctx);
    const spans = top && elementSpans(ctx.rawBody!, top, CE_DATA_KEYS);
    return { events: body.map((item, i) => fromCloudEvent(item, ctx, `[${i}]`, spans?.[i])), batch: true };
  }
  return { events: [fromCloudEvent(body, ctx, "", top)], batch: false };
}

function fromCloudEvent(ce: unknown, ctx: IngestContext, where: string, span: Span | undefined): NewEvent {
  if (typeof ce !== "object" || ce === null || Array.isArray(ce)) throw invalid(where, "a CloudEvent must be a JSON object");
  const o = ce as Record<string, unknown>;
  if (o.specversion !== "1.0") throw invalid(where, `specversion must be "1.0", got ${JSON.stringify(o.specversion)}`);
  if (o.data_base64 !== undefined) throw invalid(where, "data_base64 is not supported; send the data as JSON");
  for (const required of ["id", "source", "type"]) {
    if (typeof o[required] !== "string" || o[required] === "") throw invalid(where, `CloudEvents requires a non-empty string ${required}`);
  }
  const attributes: Record<string, unknown> = {};
  let topic: unknown;
  let key: unknown;
  for (const [k, v] of Object.entries(o)) {
    if (CE_CORE.has(k)) continue;
    if (k === "topic") topic = v;
    else if (k === "partitionkey") key = v;
    else attributes[k] = v;
  }
  if (typeof o.datacontenttype === "string") attributes.datacontenttype = o.datacontenttype;
  if (typeof o.dataschema === "string") attributes.dataschema = o.dataschema;
  return buildEvent(
    { topic, type: o.type, id: o.id, key, source: o.source, subject: o.subject, time: o.time, data: o.data ?? null, attributes },
    ctx,
    where,
    o.data === undefined ? undefined : span && memberSpan(ctx.rawBody!, span, "data"),
  );
}

/**
 * An event from a CloudEvents binary-mode request: `ce-*` headers carry the context, the body is the data.
 * @param headers lower-cased header names.
 */
export function eventFromCloudEventHeaders(headers: Record<string, string | string[] | undefined>, data: unknown, ctx: IngestContext): NewEvent {
  const get = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (get("ce-specversion") !== "1.0") throw invalid("", `ce-specversion must be "1.0", got ${JSON.stringify(get("ce-specversion"))}`);
  for (const required of ["ce-id", "ce-source", "ce-type"]) {
    if (!get(required)) throw invalid("", `CloudEvents binary mode requires the ${required} header`);
  }
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith("ce-") || value === undefined) continue;
    const attr = name.slice(3);
    if (CE_CORE.has(attr) || attr === "topic" || attr === "partitionkey") continue;
    attributes[attr] = Array.isArray(value) ? value.join(",") : value;
  }
  return buildEvent(
    {
      topic: get("ce-topic"),
      type: get("ce-type"),
      id: get("ce-id"),
      key: get("ce-partitionkey"),
      source: get("ce-source"),
      subject: get("ce-subject"),
      time: get("ce-time"),
      data,
      attributes,
    },
    ctx,
    "",
    ctx.rawBody === undefined ? undefined : wholeSpan(ctx.rawBody),
  );
}

interface RawEvent {
  topic?: unknown;
  type?: unknown;
  id?: unknown;
  key?: unknown;
  source?: unknown;
  subject?: unknown;
  time?: unknown;
  data: unknown;
  attributes?: unknown;
}

/** The last topic name {@link buildEvent} found valid: a batch, or a stream of single publishes, names it again and again. */
let lastValidTopic: string | undefined;

/** @param dataSpan where the data stands in `ctx.rawBody`, to store its text as posted. */
function buildEvent(raw: RawEvent, ctx: IngestContext, where: string, dataSpan?: Span): NewEvent {
  let topic: string;
  if (ctx.bodyIsData || raw.topic === undefined || raw.topic === null) {
    topic = ctx.topic ?? DEFAULT_TOPIC;
  } else {
    topic = raw.topic as string;
    if (ctx.topic !== undefined && ctx.topic !== topic && typeof topic === "string") {
      // The body names a topic and the URL another: refuse rather than guess.
      throw invalid(where, `the event names topic ${JSON.stringify(topic)} but the request names ${JSON.stringify(ctx.topic)}`);
    }
  }
  if (topic !== lastValidTopic) {
    const topicProblem = topicNameProblem(topic);
    if (topicProblem) throw new HubError("SB_TOPIC_INVALID", prefix(where, topicProblem));
    lastValidTopic = topic;
  }

  const id = optionalString(raw.id, "id", EVENT_LIMITS.idLength, where);
  if (id !== null && /[\u0000-\u001f\u007f]/.test(id)) throw invalid(where, "id must not contain control characters");
  const type = optionalString(raw.type, "type", EVENT_LIMITS.typeLength, where);
  if (type !== null && /[\r\n]/.test(type)) throw invalid(where, "type must not contain line breaks");

  let time = ctx.receivedAt;
  if (raw.time !== undefined && raw.time !== null) {
    const parsed = typeof raw.time === "string" || typeof raw.time === "number" ? parseTime(raw.time) : undefined;
    if (parsed === undefined) {
      throw invalid(where, `time ${JSON.stringify(raw.time)} is not a recognised time (use RFC 3339, e.g. 2025-01-01T00:00:00Z, or epoch seconds/ms)`);
    }
    time = parsed;
  }

  if (raw.data === undefined) throw invalid(where, "the event has no data");
  const dataJson = dataSpan ? compact(ctx.rawBody!, dataSpan) : JSON.stringify(raw.data);

  return {
    id: id ?? newEventId(ctx.receivedAt),
    clientId: id !== null,
    topic,
    type,
    source: optionalString(raw.source, "source", EVENT_LIMITS.sourceLength, where),
    subject: optionalString(raw.subject, "subject", EVENT_LIMITS.subjectLength, where),
    time,
    key: optionalString(raw.key, "key", EVENT_LIMITS.keyLength, where),
    dataJson,
    data: raw.data,
    attributes: normalizeAttributes(raw.attributes, where),
    receivedAt: ctx.receivedAt,
  };
}

/** An exported event's captured headers, checked as the hub captures them: lower-case names, strings, 8 KiB at most. */
function importedHeaders(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(where, "headers must be an object of strings");
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw invalid(where, `headers: ${JSON.stringify(name.slice(0, 128))} is not a lower-case header name`);
    if (typeof v !== "string") throw invalid(where, `headers.${name} must be a string`);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(v);
    if (bytes > MAX_CAPTURED_HEADER_BYTES) throw invalid(where, `headers are over ${MAX_CAPTURED_HEADER_BYTES} bytes`);
    out[name] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function normalizeAttributes(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(where, "attributes must be an object of strings");
  const entries = Object.entries(value);
  if (entries.length > EVENT_LIMITS.attributeCount) {
    throw invalid(where, `attributes has ${entries.length} entries; at most ${EVENT_LIMITS.attributeCount} are allowed`);
  }
  // A null-prototype object: an attribute named __proto__ is just a key.
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > EVENT_LIMITS.attributeNameLength) {
      throw invalid(where, `attribute names must be 1-${EVENT_LIMITS.attributeNameLength} characters`);
    }
    let s: string;
    if (typeof v === "string") s = v;
    else if (typeof v === "number" || typeof v === "boolean") s = String(v);
    else throw invalid(where, `attributes.${k} must be a string`);
    if (s.length > EVENT_LIMITS.attributeValueLength) {
      throw invalid(where, `attributes.${k} is ${s.length} characters; at most ${EVENT_LIMITS.attributeValueLength} are allowed`);
    }
    out[k] = s;
  }
  return out;
}

function optionalString(value: unknown, field: string, max: number, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw invalid(where, `${field} must be a string, got ${typeName(value)}`);
  if (value.length === 0) throw invalid(where, `${field} must not be empty`);
  if (value.length > max) throw invalid(where, `${field} is ${value.length} characters; at most ${max} are allowed`);
  return value;
}

function checkBatch(items: unknown[], ctx: IngestContext): void {
  if (items.length === 0) throw invalid("", "the batch is empty");
  if (items.length > ctx.maxBatchEvents) {
    throw new HubError("SB_EVENT_BATCH_TOO_LARGE", `the batch has ${items.length} events; at most ${ctx.maxBatchEvents} are allowed`);
  }
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function prefix(where: string, message: string): string {
  return where ? `event ${where}: ${message}` : message;
}

function invalid(where: string, message: string): HubError {
  return new HubError("SB_EVENT_INVALID", prefix(where, message));
}
