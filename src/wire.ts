import type { StoredEvent } from "./store/store.js";
import { formatTime } from "./time.js";

/** An event as the API and SSE `?envelope=true` show it. */
export interface EventOut {
  id: string;
  seq: number;
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
 * The envelope as JSON text, with the stored data text spliced in rather than parsed and serialised again.
 * Same fields and order as {@link EventOut}.
 */
export function envelopeJson(e: StoredEvent): string {
  return (
    `{"id":${JSON.stringify(e.id)},"seq":${e.seq},"topic":${JSON.stringify(e.topic)},` +
    `"type":${JSON.stringify(e.type)},"source":${JSON.stringify(e.source)},"subject":${JSON.stringify(e.subject)},` +
    `"time":"${formatTime(e.time)}","key":${JSON.stringify(e.key)},"data":${e.dataJson},` +
    `"attributes":${JSON.stringify(e.attributes)},${e.headers ? `"headers":${JSON.stringify(e.headers)},` : ""}` +
    `"received_at":"${formatTime(e.receivedAt)}"}`
  );
}
