import { performance } from "node:perf_hooks";

/**
 * While the hub is busy, each stream's frames are held and written together, at most once per `holdMs`: every write
 * costs a syscall (and a wake-up of the reader), whatever its size. A hub with time to spare writes at once.
 */
export interface CoalesceOptions {
  /** Longest a frame is held, ms; 0 writes every commit's frames at once. */
  holdMs: number;
  /**
   * The hub counts as busy when the last flush took at least this share of the time since it, in CPU time (0: always
   * busy, as tests use to make holding certain).
   */
  busyShare: number;
}

/**
 * Off (every commit written at once) until "busy" is judged right. Measured (2 cores, load average 5-15): held 5 ms,
 * 100 streams drained by another process, commits of 17 events on a busy loop cost the hub 3 µs per event instead of
 * 40, and the reader 3.5 instead of 31. But in the ingest-sse bench commits were 5-10 ms apart and nothing was held
 * (the ratio and CPU per request stayed as they were), while the sse bench's 100 streams, one event at a time, were
 * held with `busyShare: 0.2` (p50 about 5 ms). Event-loop idle time read 0 on the loaded machine and held even one
 * stream (1-stream p50 0.5 -> 4 ms).
 */
export const DEFAULT_COALESCE: CoalesceOptions = { holdMs: 0, busyShare: 0.2 };

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
  /** When the last flush ended (performance.now()), and the CPU time it took (ms). */
  private flushedAt = Number.NEGATIVE_INFINITY;
  private flushCpuMs = 0;

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

  /** Writes what is held now when the hub has time to spare or the last flush is `holdMs` old; else once it is. */
  flushSoon(): void {
    if (this.held.length === 0 || this.timer) return;
    const { holdMs, busyShare } = this.options;
    const since = performance.now() - this.flushedAt;
    if (since >= holdMs || this.flushCpuMs < busyShare * since) {
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
    const started = process.cpuUsage();
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
    const cpu = process.cpuUsage(started);
    this.flushCpuMs = (cpu.user + cpu.system) / 1000;
    this.flushedAt = performance.now();
  }
}
