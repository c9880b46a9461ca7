import type { Logger } from "pino";
import type { NewEvent, StoredEvent } from "../store/store.js";

/** Options of {@link createEventFanout}. */
export interface EventFanoutOptions {
  /** The live streams. */
  streams: { publish(events: StoredEvent[]): void; publishLive(events: NewEvent[]): void };
  /** Told of every commit: its workers read the log. */
  dispatcher: { notify(events: StoredEvent[]): void };
  log: Logger;
}

/** Hands committed events to streams, the dispatcher and the library's `onEvent` handlers. */
export interface EventFanout {
  /** Committed events, of this node or (through the commit feed) of others, in seq order, each once. */
  emit(events: StoredEvent[]): void;
  /** Events of live-only topics, of this node or (announced) of others: to the streams and `onLiveEvent` handlers only. */
  emitLive(events: NewEvent[]): void;
  /** Calls `handler` with each event emitted from now on; returns the unsubscribe function. */
  onEvent(handler: (event: StoredEvent) => void): () => void;
  /** Calls `handler` with each event of a live-only topic emitted from now on; returns the unsubscribe function. */
  onLiveEvent(handler: (event: NewEvent) => void): () => void;
}

/** Creates the fan-out of committed events. A handler that throws is logged; the others still run. */
export function createEventFanout({ streams, dispatcher, log }: EventFanoutOptions): EventFanout {
  const handlers = new Set<(event: StoredEvent) => void>();
  const liveHandlers = new Set<(event: NewEvent) => void>();
  return {
    emit(events) {
      streams.publish(events);
      dispatcher.notify(events);
      callEach(handlers, events, log);
    },
    emitLive(events) {
      streams.publishLive(events);
      if (liveHandlers.size > 0) callEach(liveHandlers, events, log);
    },
    onEvent(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    onLiveEvent(handler) {
      liveHandlers.add(handler);
      return () => liveHandlers.delete(handler);
    },
  };
}

function callEach<E extends NewEvent>(handlers: Set<(event: E) => void>, events: E[], log: Logger): void {
  for (const handler of handlers) {
    for (const e of events) {
      try {
        handler(e);
      } catch (error) {
        log.error({ err: error, eventId: e.id }, "event handler threw");
      }
    }
  }
}
