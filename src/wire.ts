import type { NewEvent } from "./store/store.js";
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
  received_at: string;
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
    `"attributes":${JSON.stringify(e.attributes)},"received_at":"${formatTime(e.receivedAt)}"}`
  );
}
