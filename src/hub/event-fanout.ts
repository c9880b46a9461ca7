import type { Logger } from "pino";
import type { StoredEvent } from "../store/store.js";

/** Options of {@link createEventFanout}. */
export interface EventFanoutOptions {
  /** The live streams. */
  streams: { publish(events: StoredEvent[]): void };
  /** Woken on every commit: its workers read the log. */
  dispatcher: { notify(): void };
  log: Logger;
}

/** Hands committed events to streams, the dispatcher and the library's `onEvent` handlers. */
export interface EventFanout {
  /** Committed events, of this node or (through the commit feed) of others, in seq order, each once. */
  emit(events: StoredEvent[]): void;
  /** Calls `handler` with each event emitted from now on; returns the unsubscribe function. */
  onEvent(handler: (event: StoredEvent) => void): () => void;
}

/** Creates the fan-out of committed events. A handler that throws is logged; the others still run. */
export function createEventFanout({ streams, dispatcher, log }: EventFanoutOptions): EventFanout {
  const handlers = new Set<(event: StoredEvent) => void>();
  return {
    emit(events) {
      streams.publish(events);
      dispatcher.notify();
      for (const handler of handlers) {
        for (const e of events) {
          try {
            handler(e);
          } catch (error) {
            log.error({ err: error, eventId: e.id }, "event handler threw");
          }
        }
      }
    },
    onEvent(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
  };
}
