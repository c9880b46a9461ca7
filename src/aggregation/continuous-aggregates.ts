/**
 * Continuous aggregates (`/aggregates`): named aggregations the store maintains at commit, read back as buckets, and
 * their backfill over the events stored before they were created, run in the background a page at a time.
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { HubError } from "../errors.js";
import type { Logger } from "pino";
import type { CompileFilterOptions } from "../routing/filter.js";
import { CellBatch } from "../store/continuous-aggregates.js";
import type { AggregateBackfill, Store, StoredAggregate } from "../store/store.js";
import type { AggregateBucket } from "./aggregate-spec.js";
import { bucketsOf, compileContinuousAggregate, parseContinuousAggregate } from "./continuous-spec.js";
import { publishClosedBuckets, type PublishEvents } from "./publish-buckets.js";

/** Events read per backfill page. */
export const BACKFILL_PAGE = 1_000;

/** A definition as the routes take it. */
export type ContinuousAggregateInput = Parameters<typeof parseContinuousAggregate>[0];

/** Options of {@link ContinuousAggregates}. */
export interface ContinuousAggregatesOptions extends CompileFilterOptions {
  store: Store;
  log: Logger;
  now?: () => number;
  /** Events per backfill page; tests narrow it. */
  pageSize?: number;
}

/**
 * The hub's continuous aggregates: installs their compiler in the store (so build it before the first commit: from then
 * on each append adds its events to the stored definitions), runs backfills and publishes closed buckets.
 */
export class ContinuousAggregates {
  private readonly store: Store;
  private readonly running = new Map<string, Promise<void>>();
  private closed = false;
  private publishing: NodeJS.Timeout | undefined;

  constructor(private readonly options: ContinuousAggregatesOptions) {
    this.store = options.store;
    this.store.aggregates.useCompiler((a) => compileContinuousAggregate(a, options));
  }

  /** @throws HubError SB_AGGREGATE_INVALID (naming the field), SB_FILTER_*, SB_AGGREGATE_EXISTS */
  async create(input: ContinuousAggregateInput): Promise<StoredAggregate> {
    const { name, spec } = parseContinuousAggregate(input, this.options);
    return this.store.aggregates.create(name, spec, (this.options.now ?? Date.now)());
  }

  list(): Promise<StoredAggregate[]> {
    return this.store.aggregates.list();
  }

  /** @throws HubError SB_AGGREGATE_NOT_FOUND */
  async get(name: string): Promise<StoredAggregate> {
    const aggregate = await this.store.aggregates.get(name);
    if (!aggregate) throw new HubError("SB_AGGREGATE_NOT_FOUND", `no aggregate is named ${JSON.stringify(name)}`);
    return aggregate;
  }

  /** The definition and its buckets starting in [from, to). @throws HubError SB_AGGREGATE_NOT_FOUND */
  async read(name: string, from: number, to: number): Promise<{ aggregate: StoredAggregate; buckets: AggregateBucket[] }> {
    const aggregate = await this.get(name);
    return { aggregate, buckets: bucketsOf(aggregate, await this.store.aggregates.cells(name, from, to)) };
  }

  /** @throws HubError SB_AGGREGATE_NOT_FOUND */
  async delete(name: string): Promise<void> {
    if (!(await this.store.aggregates.delete(name))) throw new HubError("SB_AGGREGATE_NOT_FOUND", `no aggregate is named ${JSON.stringify(name)}`);
  }

  /**
   * Starts a backfill of the events stored before the aggregate was created (those after are counted at commit), in
   * the time range given; a failed or interrupted one resumes where it stopped, in its own range.
   * @throws HubError SB_AGGREGATE_NOT_FOUND, SB_AGGREGATE_BACKFILL_RUNNING (running here, or done)
   */
  async backfill(name: string, range: { from?: number; to?: number }): Promise<StoredAggregate> {
    const aggregate = await this.get(name);
    const prior = aggregate.backfill;
    if (this.running.has(name) || prior?.state === "done") {
      throw new HubError(
        "SB_AGGREGATE_BACKFILL_RUNNING",
        `the backfill of ${JSON.stringify(name)} is ${prior?.state ?? "running"}; each event is counted once`,
      );
    }
    const startSeq = Math.min(((await this.store.events.firstSeq()) ?? aggregate.createdSeq + 1) - 1, aggregate.createdSeq);
    const backfill: AggregateBackfill = prior
      ? { ...prior, state: "running" }
      : { state: "running", from: range.from ?? null, to: range.to ?? null, startSeq, cursor: startSeq };
    if (!(await this.store.aggregates.setBackfill(name, backfill, prior ? prior.cursor : null))) {
      throw new HubError("SB_AGGREGATE_BACKFILL_RUNNING", `the backfill of ${JSON.stringify(name)} was started by another node`);
    }
    const run = this.runBackfill({ ...aggregate, backfill })
      .catch(async (error: unknown) => {
        this.options.log.error({ err: error, aggregate: name }, "backfill failed");
        const now = await this.store.aggregates.get(name).catch(() => undefined);
        if (now?.backfill) await this.store.aggregates.setBackfill(name, { ...now.backfill, state: "failed" }, now.backfill.cursor).catch(() => undefined);
      })
      .finally(() => this.running.delete(name));
    this.running.set(name, run);
    return { ...aggregate, backfill };
  }

  /** Waits for the running backfills (tests; close). */
  async settled(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }

  /**
   * Publishes the closed buckets of the aggregates with `publish` every `everyMs` (see publish-buckets.ts); a round
   * that fails (the topic cannot be created, say) is logged and tried again in the next.
   */
  startPublishing(publish: PublishEvents, everyMs: number): void {
    let busy = false;
    this.publishing = setInterval(() => {
      if (busy || this.closed) return;
      busy = true;
      publishClosedBuckets(this.store, publish, (this.options.now ?? Date.now)())
        .catch((error: unknown) => this.options.log.warn({ err: error }, "publishing closed buckets failed"))
        .finally(() => (busy = false));
    }, everyMs);
    this.publishing.unref();
  }

  /** Stops the backfills after their current page (they resume when asked again) and the publishing. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.publishing);
    await this.settled();
  }

  /** Reads (cursor, createdSeq] a page at a time, each page's cells and the new cursor in one transaction. */
  private async runBackfill(aggregate: StoredAggregate & { backfill: AggregateBackfill }): Promise<void> {
    const { name, createdSeq } = aggregate;
    let backfill = aggregate.backfill;
    const compiled = compileContinuousAggregate(aggregate, this.options, backfill);
    const pageSize = this.options.pageSize ?? BACKFILL_PAGE;
    while (backfill.cursor < createdSeq) {
      if (this.closed) return;
      const events = (await this.store.events.readAfter(backfill.cursor, pageSize)).filter((e) => e.seq <= createdSeq);
      const batch = new CellBatch();
      batch.add(name, compiled, events);
      // Fewer than a page up to createdSeq: the rest are gone (retention), so the backfill is complete.
      const last = events.length === pageSize ? events.at(-1)!.seq : createdSeq;
      const next: AggregateBackfill = { ...backfill, cursor: last, state: last >= createdSeq ? "done" : "running" };
      if (!(await this.store.aggregates.addBackfillPage(name, batch.cells(), next, backfill.cursor))) return; // deleted, or taken over
      backfill = next;
      await yieldToLoop(); // between pages, let requests and commits run
    }
  }
}
