import { performance } from "node:perf_hooks";

/**
 * While the hub is busy, each stream's frames are held and written together, at most once per `holdMs`: every write
 * costs a syscall (and a wake-up of the reader), whatever its size. A hub with time to spare writes at once.
 *
 * "Busy" is read from the commit itself: a group commit takes every publish parsed in one turn of the event loop, so
 * a commit of many events means requests queued up while the loop was working. One event at a time, however often,
 * is never held.
 */
export interface CoalesceOptions {
  /** Longest a frame is held, ms; 0 writes every commit's frames at once. */
  holdMs: number;
  /** A commit (or live publish) of at least this many events counts as busy: held if the last write is recent. */
  busyEvents: number;
}

/**
 * Held at most 20 ms, from 8 events a commit. Under the ingest-sse load (100 POST connections, 50-70 events per commit)
 * that writes each of 100 streams once per 2-5 commits instead of once per commit; the sse bench's one event at a time
 * is never held. See bench/README.md.
 */
export const DEFAULT_COALESCE: CoalesceOptions = { holdMs: 20, busyEvents: 8 };

/** Frames for one stream: their text, and how many frames it holds. */
export interface FrameChunk {
  text: string;
  frames: number;
}

/** What holds frames: a stream, whose held chunks the coalescer keeps on it. */
export interface FrameHolder {
  queued: FrameChunk[] | undefined;
}

/**
 * Holds chunks per stream and writes each stream's held chunks as one (see {@link CoalesceOptions}). For each commit
 * the hub asks {@link writesAtOnce}; if not, it calls {@link hold} for each stream, then {@link flushSoon} once.
 */
export class FrameCoalescer<S extends FrameHolder> {
  private readonly options: CoalesceOptions;
  private readonly write: (stream: S, chunk: FrameChunk) => void;
  /** Streams with chunks held, in the order they got their first. */
  private held: S[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the last flush ended (performance.now()). */
  private flushedAt = Number.NEGATIVE_INFINITY;

  /** `write` sends a chunk to a stream. */
  constructor(options: CoalesceOptions, write: (stream: S, chunk: FrameChunk) => void) {
    this.options = options;
    this.write = write;
  }

  /**
   * Whether a commit of `events` events is written at once, without holding: nothing is held, and the commit is not
   * busy or the last write is `holdMs` old. The caller then writes it itself and calls {@link wrote}; else it calls
   * {@link hold} per stream and {@link flushSoon}.
   */
  writesAtOnce(events: number): boolean {
    const { holdMs, busyEvents } = this.options;
    return this.held.length === 0 && (events < busyEvents || performance.now() - this.flushedAt >= holdMs);
  }

  /** Notes that the caller wrote a commit at once (see {@link writesAtOnce}). */
  wrote(): void {
    this.flushedAt = performance.now();
  }

  /** Queues a chunk for the stream's next write. */
  hold(stream: S, chunk: FrameChunk): void {
    if (stream.queued) stream.queued.push(chunk);
    else {
      stream.queued = [chunk];
      this.held.push(stream);
    }
  }

  /**
   * After a commit of `events` events: writes what is held now, unless the commit was a busy one and the last write
   * is less than `holdMs` old; then once it is. A commit that is not busy writes what was held with it, at once.
   */
  flushSoon(events: number): void {
    if (this.held.length === 0) return;
    const { holdMs, busyEvents } = this.options;
    const since = performance.now() - this.flushedAt;
    if (events < busyEvents || since >= holdMs) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, holdMs - since);
  }

  /**
   * Writes every stream's held chunks, joined into one. Streams of one selection hold the same chunk objects in the
   * same order, so a joined chunk is looked up by its first part and made once for all of them (and its bytes by the
   * first raw write).
   */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const streams = this.held;
    if (streams.length === 0) return;
    this.held = [];
    const joined = new Map<FrameChunk, { parts: FrameChunk[]; chunk: FrameChunk }[]>();
    for (const stream of streams) {
      const parts = stream.queued;
      if (!parts) continue; // closed meanwhile
      stream.queued = undefined;
      if (parts.length === 1) {
        this.write(stream, parts[0]!);
        continue;
      }
      const made = joined.get(parts[0]!);
      let chunk = made?.find((m) => m.parts.length === parts.length && m.parts.every((p, i) => p === parts[i]))?.chunk;
      if (!chunk) {
        chunk = { text: parts.map((p) => p.text).join(""), frames: parts.reduce((n, p) => n + p.frames, 0) };
        if (made) made.push({ parts, chunk });
        else joined.set(parts[0]!, [{ parts, chunk }]);
      }
      this.write(stream, chunk);
    }
    this.flushedAt = performance.now();
  }
}
