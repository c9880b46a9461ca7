/**
 * While the hub is busy, each stream's frames are held and written together, at most once per `holdMs`: every write
 * costs a syscall (and a wake-up of the reader), whatever its size. A hub with time to spare writes at once.
 *
 * "Busy" is read from the commits: a group commit takes every publish parsed in one turn of the event loop, so a
 * commit of many events means requests queued up while the loop was working, and the hub stays busy for `holdMs`
 * after one (the commits between two busy ones may be small). One event at a time, however often, is never held.
 */
export interface CoalesceOptions {
  /** Longest a frame is held, ms; 0 writes every commit's frames at once. */
  holdMs: number;
  /** A commit (or live publish) of at least this many events makes the hub busy for `holdMs`. */
  busyEvents: number;
}

/**
 * Held at most 20 ms, within 20 ms of a commit of 8 events or more. Under the ingest-sse load (100 POST connections,
 * 50-70 events per commit) each of 100 streams is written once per 2-5 commits instead of once per commit; the sse
 * bench's one event at a time is never held. See bench/README.md.
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
  /** When the last flush ended, and when the last busy commit came (performance.now()). */
  private flushedAt = Number.NEGATIVE_INFINITY;
  private busyAt = Number.NEGATIVE_INFINITY;
  /** Whether the commit being published is held (see {@link writesAtOnce}). */
  private holding = false;

  /** `write` sends a chunk to a stream. */
  constructor(options: CoalesceOptions, write: (stream: S, chunk: FrameChunk) => void) {
    this.options = options;
    this.write = write;
  }

  /**
   * Records a commit of `events` events (one of `busyEvents` or more makes the hub busy) and says whether it is
   * written at once, without holding: nothing is held, and the hub is not busy (no commit of `busyEvents` within
   * `holdMs`) or the last write is `holdMs` old. Called once per commit, before its streams. The caller then writes it
   * itself and calls {@link wrote}; else it calls {@link hold} per stream and {@link flushSoon}.
   */
  writesAtOnce(events: number): boolean {
    const { holdMs, busyEvents } = this.options;
    const now = performance.now();
    if (events >= busyEvents) this.busyAt = now;
    this.holding = now - this.busyAt < holdMs && now - this.flushedAt < holdMs;
    return this.held.length === 0 && !this.holding;
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

  /** After the commit's chunks are held: writes what is held now, unless the commit is held; then once it may go. */
  flushSoon(): void {
    if (this.held.length === 0) return;
    if (!this.holding) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(
      () => {
        this.timer = undefined;
        this.flush();
      },
      this.options.holdMs - (performance.now() - this.flushedAt),
    );
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
