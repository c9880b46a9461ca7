import type { NewEvent } from "./types.js";

/** An outbox row's columns: the envelope as JSON and the data as JSON text (see migration 0011). */
export interface OutboxColumns {
  envelope: string;
  data: string;
}

/** What an outbox row's `envelope` holds: the event without its data. */
type OutboxEnvelope = Omit<NewEvent, "data" | "dataJson">;

/** The columns of the outbox row that carries `event`. */
export function outboxColumns(event: NewEvent): OutboxColumns {
  const { id, clientId, topic, type, source, subject, time, key, attributes, receivedAt } = event;
  const envelope: OutboxEnvelope = { id, clientId, topic, type, source, subject, time, key, attributes, receivedAt };
  return { envelope: JSON.stringify(envelope), data: event.dataJson };
}

/** The event an outbox row carries. */
export function eventFromOutbox(columns: OutboxColumns): NewEvent {
  const envelope = JSON.parse(columns.envelope) as OutboxEnvelope;
  return { ...envelope, dataJson: columns.data, data: JSON.parse(columns.data) as unknown };
}
