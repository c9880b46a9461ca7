import type { Logger } from "pino";
import type { Store, StoredEvent } from "../store/store.js";

/** Options of {@link CommitFeed}. */
export interface CommitFeedOptions {
  store: Store;
  /** Receives every committed event exactly once, in seq order (streams, dispatcher, `onEvent` handlers). */
  emit: (events: StoredEvent[]) => void;
  log: Logger;
  /** The highest seq already committed when the feed starts: events up to it are not emitted. */
  startSeq: number;
  /** Events read from the store per page while catching up. */
  pageSize?: number;
  /** Wait after a failed read before trying again. */
  retryMs?: number;
  /**
   * This node's commits in flight: settles once each has been handed to {@link CommitFeed.local} (undefined: none).
   * An announcement waits for them before reading, as it is often of one of them: its events then come as they are.
   */
  localCommits?: () => Promise<unknown> | undefined;
}

/**
 * Merges this node's commits with those other nodes announce (LISTEN/NOTIFY) into one stream of events in seq
 * order, without duplicates. `lastSeenSeq` is the highest seq emitted. Local commits are emitted as they are, never
 * read back; an announcement beyond `lastSeenSeq` reads the events after it from the store, page by page. One
 * catch-up runs at a time; announcements arriving meanwhile only raise its target.
 *
 * Seq order is commit order (appends serialize on a lock), so a local commit whose first seq is not the next one
 * may follow commits of other nodes not read yet: the seqs below it are read from the store first. (Seqs are not
 * dense: a repeated id or a failed request uses some up; then that read finds nothing.)
 */
export class CommitFeed {
  private readonly options: CommitFeedOptions;
  private lastSeenSeq: number;
  /** Highest seq announced. */
  private target = 0;
  /** Local commits waiting behind a catch-up. */
  private readonly queue: StoredEvent[][] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(options: CommitFeedOptions) {
    this.options = options;
    this.lastSeenSeq = options.startSeq;
  }

  /** The highest seq emitted. */
  get seenSeq(): number {
    return this.lastSeenSeq;
  }

  /** This node committed `events` (in seq order). Emitted now unless a catch-up must come first. */
  local(events: StoredEvent[]): void {
    if (events.length === 0 || this.stopped) return;
    if (this.running === undefined && this.queue.length === 0 && events[0]!.seq <= this.lastSeenSeq + 1) {
      this.emitNew(events);
      return;
    }
    this.queue.push(events);
    this.kick();
  }

  /** Some node committed events up to `seq`. */
  announced(seq: number): void {
    if (this.stopped || seq <= this.lastSeenSeq) return;
    // PostgreSQL delivers a commit's NOTIFY about when the commit's own answer comes, often first: reading at once
    // would read this node's events back (measured: a fifth to a third of them under batch load). Only the commits in
    // flight now are waited for, so a steady stream of later ones cannot hold the announcement back.
    const local = this.options.localCommits?.();
    if (local) void local.then(noop, noop).then(() => this.raiseTarget(seq));
    else this.raiseTarget(seq);
  }

  private raiseTarget(seq: number): void {
    if (this.stopped || seq <= this.lastSeenSeq) return;
    if (seq > this.target) this.target = seq;
    this.kick();
  }

  /** Stops emitting; waits for a read under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.running;
  }

  private kick(): void {
    if (this.running || this.retryTimer || this.stopped) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        const next = this.queue[0];
        if (next) {
          const first = next[0]!.seq;
          if (first > this.lastSeenSeq + 1) await this.catchUp(first - 1);
          this.queue.shift();
          this.emitNew(next);
        } else if (this.target > this.lastSeenSeq) {
          await this.catchUp(this.target);
        } else return;
      }
    } catch (error) {
      if (this.stopped) return;
      // The store did not answer: try again shortly (local commits wait in order meanwhile).
      this.options.log.error({ err: error, afterSeq: this.lastSeenSeq }, "reading other nodes' commits failed");
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, this.options.retryMs ?? 1_000);
      this.retryTimer.unref();
    }
  }

  /** Reads and emits the events after `lastSeenSeq` up to `upTo`; afterwards everything up to `upTo` is seen. */
  private async catchUp(upTo: number): Promise<void> {
    const pageSize = this.options.pageSize ?? 1_000;
    while (!this.stopped && this.lastSeenSeq < upTo) {
      const page = await this.options.store.events.readAfter(this.lastSeenSeq, pageSize);
      if (this.stopped) return;
      const wanted = page.filter((e) => e.seq <= upTo);
      if (wanted.length > 0) this.emitNew(wanted);
      if (page.length < pageSize || wanted.length < page.length) break;
    }
    if (!this.stopped && this.lastSeenSeq < upTo) this.lastSeenSeq = upTo;
  }

  private emitNew(events: StoredEvent[]): void {
    const fresh = events[0]!.seq > this.lastSeenSeq ? events : events.filter((e) => e.seq > this.lastSeenSeq);
    if (fresh.length === 0) return;
    this.lastSeenSeq = fresh[fresh.length - 1]!.seq;
    this.options.emit(fresh);
  }
}

function noop(): void {}
