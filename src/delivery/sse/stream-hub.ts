import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import type { HubMetrics } from "../../metrics.js";
import type { EventFilter } from "../../routing/filter.js";
import type { TopicMatcher } from "../../routing/topic-pattern.js";
import type { NewEvent, Store, StoredEvent } from "../../store/store.js";
import { envelopeJson } from "../../wire.js";
import { type CoalesceOptions, DEFAULT_COALESCE, FrameCoalescer } from "./frame-coalescer.js";
import { chunkOf, detachStreamSocket, endChunked } from "./stream-socket.js";
import { oldestSelected, selectsTopic } from "./stream-topics.js";

/** What a stream asked for. */
export interface StreamSelection {
  /** Topic matchers; empty means every topic. */
  topics: TopicMatcher[];
  filter?: EventFilter;
  /** Send the whole envelope instead of the data alone. */
  envelope: boolean;
  /** Resume after this event id. */
  lastEventId?: string;
}

/** Options of {@link StreamHub}. */
export interface StreamHubOptions {
  store: Store;
  metrics?: HubMetrics;
  log?: Logger;
  heartbeatMs: number;
  retryMs: number;
  /** Bytes a stream may have unsent before it is closed as too slow. */
  maxBufferedBytes: number;
  maxStreams: number;
  /** When frames are held to be written together; {@link DEFAULT_COALESCE} when absent. */
  coalesce?: CoalesceOptions;
}

/** Events read from the store per page while a stream catches up. */
const REPLAY_PAGE = 500;
/** Live events held for a stream while it catches up; past this it re-reads them from the store instead. */
const MAX_PENDING = 10_000;

const enum State {
  Replaying,
  Live,
  Closed,
}

interface Stream {
  /** The response, until the connection is taken from the HTTP server (see stream-socket.ts); then its socket. */
  out: ServerResponse | Socket;
  /** Whether `out` is the socket: writes are then framed as chunks here. */
  raw: boolean;
  selection: StreamSelection;
  state: State;
  /** Highest seq written (or skipped as not matching). */
  lastSeq: number;
  /** Live events that arrived during replay; undefined once it overflowed. */
  pending: StoredEvent[] | undefined;
  /** Events of live-only topics that arrived during replay, sent when it goes live (at most {@link MAX_PENDING}). */
  pendingLive: NewEvent[] | undefined;
  /** Streams with equal signatures select the same frames, so they share one chunk per commit. */
  signature: string;
  /** Live frames held for the stream's next write (see frame-coalescer.ts), in order. */
  queued: Chunk[] | undefined;
}

/** What one selection receives from one commit. */
interface Chunk {
  text: string;
  frames: number;
  /** `text` framed as a chunk of the HTTP body, made once for every stream written raw. */
  wire?: Buffer;
}

/** The heartbeat comment, and as a chunk. */
const HEARTBEAT: Chunk = { text: ": heartbeat\n\n", frames: 0, wire: chunkOf(": heartbeat\n\n") };

/** One event with its frames, serialised once however many streams receive it. */
interface Outgoing {
  /** A committed event, or one of a live-only topic (no seq: its frames have no `id:` line). */
  event: StoredEvent | NewEvent;
  dataFrame?: string;
  envelopeFrame?: string;
}

/**
 * The live SSE streams of this node. `publish` is called after each commit; it serialises each event once and
 * writes it to every stream that selected it (while the hub is busy, a stream's frames of several commits go in one
 * write: frame-coalescer.ts). A stream whose socket holds more than `maxBufferedBytes` unsent is
 * closed (the client resumes with `Last-Event-ID`), so a slow reader never holds back ingest or other streams,
 * and never grows memory without bound.
 */
export class StreamHub {
  private readonly options: StreamHubOptions;
  private readonly streams = new Set<Stream>();
  private heartbeat: NodeJS.Timeout | undefined;
  private closing = false;
  /** Streams opened since the last turn of the event loop, whose connections are taken over on the next. */
  private toDetach: Stream[] = [];
  private readonly coalescer: FrameCoalescer<Stream>;

  constructor(options: StreamHubOptions) {
    this.options = options;
    this.coalescer = new FrameCoalescer<Stream>(options.coalesce ?? DEFAULT_COALESCE, (stream, chunk) => this.write(stream, chunk));
  }

  /** Open streams. */
  get size(): number {
    return this.streams.size;
  }

  /** Whether one more stream may open. */
  hasRoom(): boolean {
    return !this.closing && this.streams.size < this.options.maxStreams;
  }

  /**
   * Starts streaming on a response whose headers have not been sent. Headers and the `retry:` hint go out at once;
   * with `lastEventId`, stored events after it are replayed first, then live ones, with no gap and no duplicate.
   */
  async open(res: ServerResponse, selection: StreamSelection): Promise<void> {
    const { metrics, retryMs } = this.options;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.socket?.setNoDelay(true);
    res.write(`retry: ${retryMs}\n: connected\n\n`);

    const stream: Stream = {
      out: res,
      raw: false,
      selection,
      state: selection.lastEventId === undefined ? State.Live : State.Replaying,
      lastSeq: 0,
      pending: selection.lastEventId === undefined ? undefined : [],
      pendingLive: undefined,
      queued: undefined,
      signature: `${selection.envelope ? 1 : 0}\n${selection.topics.map((m) => m.pattern).join(",")}\n${selection.filter?.source ?? ""}`,
    };
    this.streams.add(stream);
    metrics?.streamsOpen.inc();
    this.ensureHeartbeat();
    res.on("close", () => this.remove(stream));
    // Not now: Node's parser is still running beneath this request's handler.
    if (this.toDetach.push(stream) === 1) setImmediate(() => this.detachPending());

    if (selection.lastEventId !== undefined) await this.replay(stream, selection.lastEventId);
  }

  /** Delivers committed events (in seq order) to every stream that selected them: at once, or held while busy. */
  publish(events: StoredEvent[]): void {
    if (this.streams.size === 0) return;
    // Not busy (the usual case): written in this loop, as before holding existed; else held (frame-coalescer.ts).
    const atOnce = this.coalescer.writesAtOnce(events.length);
    let wrote = false;
    const outgoing: Outgoing[] = events.map((event) => ({ event }));
    const firstSeq = events[0]!.seq;
    const lastSeq = events[events.length - 1]!.seq;
    // Selection signature → its chunk for this commit: matched and concatenated once, written to every stream.
    const chunks = new Map<string, Chunk>();
    for (const stream of this.streams) {
      if (stream.state === State.Replaying) {
        if (stream.pending) {
          for (const e of events) stream.pending.push(e);
          if (stream.pending.length > MAX_PENDING) stream.pending = undefined; // it will read them from the store
        }
        continue;
      }
      if (stream.state !== State.Live) continue;
      let chunk: Chunk | undefined;
      if (stream.lastSeq < firstSeq) {
        chunk = chunks.get(stream.signature);
        if (!chunk) {
          chunk = chunkFor(stream.selection, outgoing, 0);
          chunks.set(stream.signature, chunk);
        }
      } else {
        chunk = chunkFor(stream.selection, outgoing, stream.lastSeq); // just switched from replay
      }
      stream.lastSeq = Math.max(stream.lastSeq, lastSeq);
      if (chunk.frames > 0) wrote = this.deliverChunk(stream, chunk, atOnce) || wrote;
    }
    this.endCommit(atOnce, wrote);
  }

  /**
   * Delivers events of live-only topics to every stream that selected them. Their frames carry no `id:` line, so a
   * client's Last-Event-ID stays the last stored event's and a resume replays from there (live events are not
   * replayed: they were never stored). They do not move a stream's position in the log. A stream still replaying
   * gets them once it goes live.
   */
  publishLive(events: NewEvent[]): void {
    if (this.streams.size === 0) return;
    // Not busy (the usual case): written in this loop, as before holding existed; else held (frame-coalescer.ts).
    const atOnce = this.coalescer.writesAtOnce(events.length);
    let wrote = false;
    const outgoing: Outgoing[] = events.map((event) => ({ event }));
    const chunks = new Map<string, Chunk>();
    for (const stream of this.streams) {
      if (stream.state === State.Replaying) {
        const held = (stream.pendingLive ??= []);
        for (const e of events) if (held.length < MAX_PENDING) held.push(e);
        continue;
      }
      if (stream.state !== State.Live) continue;
      let chunk = chunks.get(stream.signature);
      if (!chunk) {
        chunk = chunkFor(stream.selection, outgoing, 0);
        chunks.set(stream.signature, chunk);
      }
      if (chunk.frames > 0) wrote = this.deliverChunk(stream, chunk, atOnce) || wrote;
    }
    this.endCommit(atOnce, wrote);
  }

  /** Writes a commit's chunk to a stream now, or holds it for a later write (frame-coalescer.ts); true when written. */
  private deliverChunk(stream: Stream, chunk: Chunk, atOnce: boolean): boolean {
    if (atOnce) return this.write(stream, chunk);
    this.coalescer.hold(stream, chunk);
    return false;
  }

  /** After a commit has gone through the streams: notes a write made at once, or schedules what was held. */
  private endCommit(atOnce: boolean, wrote: boolean): void {
    if (!atOnce) this.coalescer.flushSoon();
    else if (wrote) this.coalescer.wrote();
  }

  /** Closes every stream with a retry hint (on shutdown) and refuses new ones. */
  closeAll(): void {
    this.closing = true;
    this.coalescer.flush(); // held frames go before the goodbye
    const last = `retry: ${this.options.retryMs}\n: server shutting down\n\n`;
    for (const stream of this.streams) {
      if (stream.raw) endChunked(stream.out as Socket, last);
      else if (!stream.out.destroyed) stream.out.end(last);
      this.remove(stream);
    }
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async replay(stream: Stream, lastEventId: string): Promise<void> {
    const { store, log } = this.options;
    let cursor: number | undefined;
    try {
      // Only an event of the stream's own topics is a resume point. An id of another topic answers exactly as an
      // unknown one, so a stream cannot confirm that an id exists outside what it may read. The filter does not
      // count: the topics bound what the credential may read, and a client may change its filter between reconnects.
      const event = await store.events.get(lastEventId);
      if (event !== undefined && selectsTopic(stream.selection, event.topic)) cursor = event.seq;
    } catch (error) {
      log?.error({ err: error }, "stream replay failed");
      stream.out.destroy();
      return;
    }
    if (cursor === undefined) {
      // Not stored (removed by retention, never ours, or of another topic): say so instead of silently going live.
      const oldest = await oldestSelected(store, stream.selection).catch((error: unknown) => {
        log?.error({ err: error }, "reading the oldest event of a stream failed");
        return undefined;
      });
      const signal = JSON.stringify({
        code: "SB_STREAM_RESUME_UNKNOWN",
        details: `event ${JSON.stringify(lastEventId)} is not a stored event of this stream's topics (it may have been removed by retention); events after it may have been missed. Streaming live events from now.`,
        last_event_id: lastEventId,
        oldest_id: oldest ?? null,
      });
      this.write(stream, { text: `event: switchboard.reset\ndata: ${signal}\n\n`, frames: 0 });
      // Live from when the stream opened: what was committed since is held in `pending` and sent by goLive. Only if
      // that overflowed, skip to the newest stored (reading it after the reset could skip an event committed meanwhile).
      if (stream.pending === undefined) stream.lastSeq = (await store.events.lastSeq()) ?? 0;
      this.goLive(stream);
      return;
    }
    stream.lastSeq = cursor;
    try {
      for (;;) {
        if (stream.state === State.Closed) return;
        const page = await store.events.readAfter(stream.lastSeq, REPLAY_PAGE);
        if (page.length > 0) {
          const chunk = chunkFor(
            stream.selection,
            page.map((event) => ({ event })),
            stream.lastSeq,
          );
          stream.lastSeq = page[page.length - 1]!.seq;
          if (chunk.frames > 0) {
            let onFlushed!: () => void;
            const flushed = new Promise<void>((resolve) => (onFlushed = resolve));
            if (!this.write(stream, chunk, onFlushed)) return;
            // Pace the replay by the reader: wait until the page has left the socket buffer before reading the next
            // page, and before going live too, else the first live write would find the last page still buffered and
            // close the stream as slow. (Not 'drain': it is not emitted while the buffer is under its high-water mark.)
            if (stream.out.writableLength > this.options.maxBufferedBytes / 2) await settled(stream.out, flushed);
          }
        }
        if (page.length < REPLAY_PAGE) {
          if (stream.pending === undefined) {
            // Live events overflowed while catching up: they are stored, read on.
            stream.pending = [];
            continue;
          }
          break;
        }
      }
    } catch (error) {
      log?.error({ err: error }, "stream replay failed");
      stream.out.destroy();
      return;
    }
    this.goLive(stream);
  }

  private goLive(stream: Stream): void {
    if (stream.state === State.Closed) return;
    const pending = stream.pending ?? [];
    const pendingLive = stream.pendingLive ?? [];
    stream.pending = undefined;
    stream.pendingLive = undefined;
    stream.state = State.Live;
    // Events committed during the replay: only those after what the replay read.
    if (pending.length > 0) this.publishTo(stream, pending);
    if (pendingLive.length > 0) {
      const chunk = chunkFor(
        stream.selection,
        pendingLive.map((event) => ({ event })),
        0,
      );
      if (chunk.frames > 0) this.write(stream, chunk);
    }
  }

  private publishTo(stream: Stream, events: StoredEvent[]): void {
    const chunk = chunkFor(
      stream.selection,
      events.map((event) => ({ event })),
      stream.lastSeq,
    );
    stream.lastSeq = Math.max(stream.lastSeq, events[events.length - 1]!.seq);
    if (chunk.frames > 0) this.write(stream, chunk);
  }

  /** Writes, or closes the stream when its reader has fallen too far behind. False when the stream is gone. */
  private write(stream: Stream, chunk: Chunk, onFlushed?: () => void): boolean {
    const { out } = stream;
    const { metrics } = this.options;
    if (stream.state === State.Closed || out.destroyed) return false;
    if (out.writableLength > this.options.maxBufferedBytes) {
      metrics?.streamsClosedSlow.inc();
      metrics?.streamFramesDropped.inc(chunk.frames);
      this.options.log?.info({ buffered: out.writableLength }, "closing slow stream");
      out.destroy();
      this.remove(stream);
      return false;
    }
    if (stream.raw) out.write((chunk.wire ??= chunkOf(chunk.text)), onFlushed);
    else out.write(chunk.text, onFlushed);
    metrics?.streamFramesSent.inc(chunk.frames);
    return true;
  }

  /** Takes the connections of the streams opened on the last turn from the HTTP server (see stream-socket.ts). */
  private detachPending(): void {
    const streams = this.toDetach;
    this.toDetach = [];
    for (const stream of streams) {
      if (stream.state === State.Closed || stream.raw) continue;
      const socket = detachStreamSocket(stream.out as ServerResponse);
      if (socket) {
        stream.out = socket;
        stream.raw = true;
      }
    }
  }

  private remove(stream: Stream): void {
    if (stream.state === State.Closed) return;
    stream.state = State.Closed;
    stream.pending = undefined;
    stream.pendingLive = undefined;
    stream.queued = undefined;
    if (this.streams.delete(stream)) this.options.metrics?.streamsOpen.dec();
    if (this.streams.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  private ensureHeartbeat(): void {
    if (this.heartbeat) return;
    // One timer for all streams: a comment line keeps proxies from closing idle connections.
    this.heartbeat = setInterval(() => {
      this.coalescer.flush(); // after the frames held, not between them
      for (const stream of this.streams) {
        if (stream.state !== State.Closed && !stream.out.destroyed) stream.out.write(stream.raw ? HEARTBEAT.wire! : HEARTBEAT.text);
      }
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }
}

/** Resolves when `flushed` does or the stream closes, whichever comes first. */
function settled(res: ServerResponse | Socket, flushed: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("close", done);
      resolve();
    };
    res.on("close", done);
    void flushed.then(done);
  });
}

function selects(selection: StreamSelection, e: NewEvent): boolean {
  if (!selectsTopic(selection, e.topic)) return false;
  return selection.filter === undefined || selection.filter.matches(e);
}

/** The frames of `outgoing` after `afterSeq` that `selection` selects, concatenated (live events have no seq). */
function chunkFor(selection: StreamSelection, outgoing: Outgoing[], afterSeq: number): Chunk {
  let text = "";
  let frames = 0;
  for (const o of outgoing) {
    const seq = (o.event as Partial<StoredEvent>).seq;
    if ((seq !== undefined && seq <= afterSeq) || !selects(selection, o.event)) continue;
    text += frameOf(o, selection.envelope);
    frames++;
  }
  return { text, frames };
}

/** A stored event's frame starts with its `id:`; a live event's has none, so it leaves the client's resume point alone. */
function frameOf(o: Outgoing, envelope: boolean): string {
  const idLine = (o.event as Partial<StoredEvent>).seq === undefined ? "" : `id: ${o.event.id}\n`;
  if (envelope) return (o.envelopeFrame ??= `${idLine}data: ${envelopeJson(o.event)}\n\n`);
  return (o.dataFrame ??= `${idLine}data: ${o.event.dataJson}\n\n`);
}
