import { performance } from "node:perf_hooks";

/**
 * While the hub is busy, each stream's frames are held and written together, at most once per `holdMs`: every write
 * costs a syscall (and a wake-up of the reader), whatever its size. An idle hub writes at once.
 */
export interface CoalesceOptions {
  /** Longest a frame is held, ms; 0 writes every commit's frames at once. */
  holdMs: number;
  /**
   * The event loop's utilization since the last flush at or above which the hub counts as busy (0: always busy, as
   * tests use to make holding certain).
   */
  busyUtilization: number;
}

/**
 * 5 ms: with 100 streams, one commit's 100 writes cost the hub about 0.4 ms of CPU on a quiet machine (7 µs each on
 * a loaded one) and their reader as much again; a commit every millisecond or so under load made that a third of the
 * hub's CPU. Held 5 ms, they cost the hub about 2 µs per event. 0.9: a hub idle a tenth of the time has CPU to spare
 * and writes at once, so latency at a moderate rate is as before.
 */
export const DEFAULT_COALESCE: CoalesceOptions = { holdMs: 5, busyUtilization: 0.9 };

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
 * Holds chunks per stream and writes each stream's held chunks as one (see {@link CoalesceOptions}). The hub calls
 * {@link hold} for each stream of a commit, then {@link flushSoon} once.
 */
export class FrameCoalescer<S extends FrameHolder> {
  private readonly options: CoalesceOptions;
  private readonly write: (stream: S, chunk: FrameChunk) => void;
  /** Streams with chunks held, in the order they got their first. */
  private held: S[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the last flush ended (performance.now()), and the event loop's utilization then. */
  private flushedAt = Number.NEGATIVE_INFINITY;
  private loopAtFlush = performance.eventLoopUtilization();

  /** `write` sends a chunk to a stream. */
  constructor(options: CoalesceOptions, write: (stream: S, chunk: FrameChunk) => void) {
    this.options = options;
    this.write = write;
  }

  /** Queues a chunk for the stream's next write. */
  hold(stream: S, chunk: FrameChunk): void {
    if (stream.queued) stream.queued.push(chunk);
    else {
      stream.queued = [chunk];
      this.held.push(stream);
    }
  }

  /** Writes what is held now when the hub is idle enough or the last flush is `holdMs` old; else once it is. */
  flushSoon(): void {
    if (this.held.length === 0 || this.timer) return;
    const { holdMs, busyUtilization } = this.options;
    const since = performance.now() - this.flushedAt;
    if (since >= holdMs || performance.eventLoopUtilization(this.loopAtFlush).utilization < busyUtilization) {
      this.flush();
      return;
    }
    this.timer = setTimeout(() => {
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
    this.loopAtFlush = performance.eventLoopUtilization();
  }
}
