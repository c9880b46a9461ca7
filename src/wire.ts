import type { NewEvent, StoredEvent } from "./store/store.js";
import { formatTime } from "./time.js";

/** An event as the API and SSE `?envelope=true` show it. */
export interface EventOut {
  id: string;
  /** Null for an event of a live-only topic: it was never stored. */
  seq: number | null;
  topic: string;
  type: string | null;
  source: string | null;
  subject: string | null;
  time: string;
  key: string | null;
  data: unknown;
  attributes: Record<string, string>;
  /** The captured publish request headers (`captureHeaders`), lower-case names; only when the hub kept some. */
  headers?: Record<string, string>;
  received_at: string;
}

/**
 * An event as one of Simple Event Handler's flat rows (`GET /events?format=rows`): `id` (the seq, as its serial id),
 * the fields of the data when it is an object (else `data`), and `created_at` (the event's time). The data's own
 * `id` and `created_at`, if any, give way to these.
 * @example eventRow(event) // { id: 1, user_id: 123, action: "login", metadata: { page: "/home" }, created_at: "2025-01-01T12:34:56.000Z" }
 */
export function eventRow(e: StoredEvent): Record<string, unknown> {
  const data = e.data;
  const fields = typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : { data };
  const row: Record<string, unknown> = { id: e.seq, ...fields };
  row.id = e.seq; // first, as Simple Event Handler has it, even when the data has an id of its own
  row.created_at = formatTime(e.time);
  return row;
}

/**
 * The envelope as JSON text, with the stored data text spliced in rather than parsed and serialised again.
 * Same fields and order as {@link EventOut}; `seq` is null for an event of a live-only topic.
 */
export function envelopeJson(e: NewEvent & { seq?: number }): string {
  return (
    `{"id":${JSON.stringify(e.id)},"seq":${e.seq ?? null},"topic":${JSON.stringify(e.topic)},` +
    `"type":${JSON.stringify(e.type)},"source":${JSON.stringify(e.source)},"subject":${JSON.stringify(e.subject)},` +
    `"time":"${formatTime(e.time)}","key":${JSON.stringify(e.key)},"data":${e.dataJson},` +
    `"attributes":${JSON.stringify(e.attributes)},${e.headers ? `"headers":${JSON.stringify(e.headers)},` : ""}` +
    `"received_at":"${formatTime(e.receivedAt)}"}`
  );
}
