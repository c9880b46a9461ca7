import type { EventOut } from "../wire.js";
import { SwitchboardError } from "./errors.js";
import { errorFrom, sleep, type HttpClient } from "./http.js";
import { SseParser, type SseBlock } from "./sse-parser.js";

/** Options of {@link Switchboard.stream}. */
export interface StreamOptions {
  /** Topic names or patterns (`orders.*`); none means every topic. */
  topics?: string | readonly string[];
  /** A CEL filter (docs/filters.md). */
  filter?: string;
  /** Start after this event id: the stored events after it are sent first, then live ones. */
  lastEventId?: string;
  /** Ends the stream (the iterator then finishes without an error). */
  signal?: AbortSignal;
  /** The wait before reconnecting, ms; default the hub's `retry:` hint, else 1000. Doubled after each failed try. */
  reconnectDelayMs?: number;
  /** The longest wait between reconnection tries, ms (default 30 000). */
  maxReconnectDelayMs?: number;
  /** Told when the hub could not resume from the last id (retention removed it): the stream goes on live. */
  onReset?: (reset: StreamReset) => void;
  /** Told each time the hub accepts the connection: the first time, and after each reconnection. */
  onOpen?: () => void;
  /** Told of each drop before the stream reconnects (the error, when there was one). */
  onReconnect?: (info: { attempt: number; error?: unknown }) => void;
}

/** The body of the hub's `event: switchboard.reset` frame (docs/streams.md). */
export interface StreamReset {
  code: string;
  details: string;
  last_event_id: string;
  oldest_id: string | null;
}

/**
 * A live stream of events (envelopes) that keeps itself going: after a drop, or a hub restart, it reconnects and sends
 * `Last-Event-ID`, so the hub sends what was missed first, with no gap and no duplicate. Errors that a retry cannot
 * fix (400, 401, 403) end it by throwing. `break` out of the loop (or abort the signal) to close it.
 */
export class EventStream implements AsyncIterableIterator<EventOut> {
  /** The id of the last event handed out: where a reconnection resumes. */
  lastEventId: string | undefined;
  private readonly iterator: AsyncGenerator<EventOut, void, undefined>;
  /** Aborted by {@link return} or by the caller's signal: ends a pending read at once. */
  private readonly closer = new AbortController();

  constructor(
    private readonly http: HttpClient,
    private readonly options: StreamOptions = {},
  ) {
    this.lastEventId = options.lastEventId;
    if (options.signal?.aborted) this.closer.abort();
    options.signal?.addEventListener("abort", () => this.closer.abort(), { once: true });
    this.iterator = this.run();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EventOut> {
    return this;
  }

  next(): Promise<IteratorResult<EventOut>> {
    return this.iterator.next();
  }

  /** Closes the connection, ending a read in progress too; later reads end. */
  async return(): Promise<IteratorResult<EventOut>> {
    this.closer.abort();
    return this.iterator.return(undefined);
  }

  private url(): string {
    const params = new URLSearchParams({ envelope: "true" });
    const topics = typeof this.options.topics === "string" ? [this.options.topics] : (this.options.topics ?? []);
    for (const topic of topics) params.append("topic", topic);
    if (this.options.filter !== undefined) params.set("filter", this.options.filter);
    return `${this.http.url}/events?${params}`;
  }

  private async *run(): AsyncGenerator<EventOut, void, undefined> {
    const userSignal = this.closer.signal;
    let hintMs: number | undefined;
    for (let attempt = 0; !userSignal.aborted; attempt++) {
      const controller = new AbortController();
      const abort = () => controller.abort();
      userSignal.addEventListener("abort", abort, { once: true });
      let error: unknown;
      try {
        const res = await fetch(this.url(), {
          headers: this.http.headers({ accept: "text/event-stream", ...(this.lastEventId ? { "last-event-id": this.lastEventId } : {}) }),
          signal: controller.signal,
        });
        if (!res.ok) {
          const failure = await errorFrom(res);
          if (res.status !== 429 && res.status !== 503) throw failure;
          error = failure;
          hintMs = failure.retryAfterMs ?? hintMs;
        } else {
          attempt = 0;
          this.options.onOpen?.();
          for await (const block of blocksOf(res, this.lastEventId)) {
            if (block.retry !== undefined) hintMs = block.retry;
            const event = this.eventOf(block);
            if (event === undefined) continue;
            this.lastEventId = event.id;
            yield event;
          }
        }
      } catch (caught) {
        if (userSignal.aborted) return;
        if (caught instanceof SwitchboardError && caught.status !== 0 && caught.status !== 429 && caught.status !== 503) throw caught;
        error = caught;
      } finally {
        userSignal.removeEventListener("abort", abort);
        controller.abort();
      }
      this.options.onReconnect?.({ attempt: attempt + 1, error });
      const base = this.options.reconnectDelayMs ?? hintMs ?? 1000;
      try {
        await sleep(Math.min(base * 2 ** Math.min(attempt, 10), this.options.maxReconnectDelayMs ?? 30_000), userSignal);
      } catch {
        return;
      }
    }
  }

  /** The event a block carries; undefined for comments, hints and resets (which go to `onReset`). */
  private eventOf(block: SseBlock): EventOut | undefined {
    if (block.data === undefined) return undefined;
    if (block.event === "switchboard.reset") {
      this.options.onReset?.(JSON.parse(block.data) as StreamReset);
      return undefined;
    }
    if (block.event !== undefined && block.event !== "message") return undefined;
    try {
      return JSON.parse(block.data) as EventOut;
    } catch (error) {
      throw new SwitchboardError("SB_CLIENT_BAD_REPLY", 200, `a stream frame is not JSON: ${block.data.slice(0, 200)}`, { cause: error });
    }
  }
}

/** The blocks of an event-stream response, as they arrive. */
async function* blocksOf(res: Response, lastEventId: string | undefined): AsyncGenerator<SseBlock> {
  const queue: SseBlock[] = [];
  const parser = new SseParser({ lastEventId, onBlock: (block) => queue.push(block) });
  if (!res.body) return;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    parser.push(chunk);
    while (queue.length > 0) yield queue.shift()!;
  }
}
