/**
 * Continuous aggregates: named aggregations of the events' data maintained at commit, in the same transaction as the
 * events (see docs/aggregation.md). The store keeps the definitions as opaque JSON and the cells they add up; what a
 * definition means (its topic, filter, metrics, buckets) is compiled by the hub ({@link AggregateCompiler}), so that
 * storage does not depend on routing.
 */
import type { StoredEvent } from "./types.js";

/** A backfill's progress: the seqs it covers are (startSeq, createdSeq]; `cursor` is the last one counted. */
export interface AggregateBackfill {
  state: "running" | "done" | "failed";
  from: number | null;
  to: number | null;
  startSeq: number;
  cursor: number;
}

/** A stored definition. Events with seq ≤ `createdSeq` are counted only by a backfill, later ones at commit. */
export interface StoredAggregate {
  name: string;
  /** The definition as the hub wrote it. */
  spec: unknown;
  createdAt: number;
  createdSeq: number;
  backfill: AggregateBackfill | null;
  /** With `publish` in the spec: the buckets before this were published (null: none yet). */
  publishedUntil: number | null;
}

/**
 * One cell: a bucket start, a group ('' for none) and a field ('' for the event count), with the count, sum, min and
 * max of the field's numbers (for the event count, `n` is the count and the rest 0).
 */
export interface AggregateCell {
  t: number;
  group: string;
  field: string;
  n: number;
  sum: number;
  min: number;
  max: number;
}

/** What a compiled definition makes of one event: undefined when it does not count it. */
export interface AggregateContribution {
  t: number;
  group: string;
  /** The numbers of the metric fields the event has, by field name. */
  values: ReadonlyArray<readonly [string, number]>;
}

/** A compiled definition. */
export type CompiledAggregate = (event: StoredEvent) => AggregateContribution | undefined;

/** Compiles a stored definition; the hub installs one with {@link AggregatesPart.useCompiler}. */
export type AggregateCompiler = (aggregate: StoredAggregate) => CompiledAggregate;

/** The store's continuous aggregates. */
export interface AggregatesPart {
  /**
   * Installs the compiler; from then on each append adds its events to every definition, in its transaction.
   * Without one (a store opened outside a hub), appends leave the aggregates alone.
   */
  useCompiler(compiler: AggregateCompiler): void;
  /**
   * Stores a definition, its `createdSeq` the last seq committed (taken under the append lock, so every later event
   * is counted at commit). @throws HubError SB_AGGREGATE_EXISTS
   */
  create(name: string, spec: unknown, now: number): Promise<StoredAggregate>;
  list(): Promise<StoredAggregate[]>;
  get(name: string): Promise<StoredAggregate | undefined>;
  /** Removes a definition and its cells; false when there was none. */
  delete(name: string): Promise<boolean>;
  /** The cells of buckets starting in [from, to), in time, group and field order. */
  cells(name: string, from: number, to: number): Promise<AggregateCell[]>;
  /**
   * Sets a backfill's state, range and cursor if its cursor is still `expectedCursor` (null: no backfill yet).
   * False when it is not (another runner moved it) or the aggregate is gone.
   */
  setBackfill(name: string, backfill: AggregateBackfill, expectedCursor: number | null): Promise<boolean>;
  /**
   * Adds one page of a backfill and moves its cursor (and state) in one transaction, if the cursor is still
   * `expectedCursor`: so a page is counted once, even by two runners. False (nothing added) otherwise.
   */
  addBackfillPage(name: string, cells: AggregateCell[], backfill: AggregateBackfill, expectedCursor: number): Promise<boolean>;
  /** Records that the buckets before `until` were published, if the mark is still `expected`; false otherwise. */
  setPublished(name: string, until: number, expected: number | null): Promise<boolean>;
}

/** A batch's cells, summed in memory: one upsert per distinct (aggregate, bucket, group, field). */
export interface CellColumns {
  name: string[];
  t: number[];
  group: string[];
  field: string[];
  n: number[];
  sum: number[];
  min: number[];
  max: number[];
}

/** Adds events to cells keyed by (name, t, group, field). */
export class CellBatch {
  readonly columns: CellColumns = { name: [], t: [], group: [], field: [], n: [], sum: [], min: [], max: [] };
  private readonly index = new Map<string, number>();

  /** Adds what `compiled` makes of each event, under `name`. */
  add(name: string, compiled: CompiledAggregate, events: readonly StoredEvent[]): void {
    // Consecutive events mostly fall in the same bucket and group: their cells' slots are kept (the count's first, then
    // each field's in the order the event gave them) and reused while the fields repeat, sparing a key and a lookup.
    let runT = NaN;
    let runGroup = "";
    let known = 0; // how many of the run's slots hold
    const fields: string[] = [];
    const slots: number[] = [];
    const c = this.columns;
    for (const e of events) {
      const k = compiled(e);
      if (!k) continue;
      if (k.t !== runT || k.group !== runGroup) {
        runT = k.t;
        runGroup = k.group;
        slots[0] = this.slot(name, k.t, k.group, "", 0, 0);
        known = 1;
      }
      c.n[slots[0]!]! += 1;
      let j = 1;
      for (const [field, v] of k.values) {
        if (j >= known || fields[j] !== field) {
          fields[j] = field;
          slots[j] = this.slot(name, k.t, k.group, field, v, v);
          known = j + 1; // the slots after a change were another event's fields
        }
        const i = slots[j++]!;
        c.n[i]! += 1;
        c.sum[i]! += v;
        if (v < c.min[i]!) c.min[i] = v;
        if (v > c.max[i]!) c.max[i] = v;
      }
    }
  }

  /** Adds one cell as it is (a cell read back, or another batch's). */
  addCell(name: string, cell: AggregateCell): void {
    const i = this.slot(name, cell.t, cell.group, cell.field, cell.min, cell.max);
    const c = this.columns;
    c.n[i]! += cell.n;
    c.sum[i]! += cell.sum;
    if (cell.min < c.min[i]!) c.min[i] = cell.min;
    if (cell.max > c.max[i]!) c.max[i] = cell.max;
  }

  get size(): number {
    return this.columns.t.length;
  }

  /** The cells of one aggregate (for a backfill page, which has one). */
  cells(): AggregateCell[] {
    const c = this.columns;
    return c.t.map((t, i) => ({ t, group: c.group[i]!, field: c.field[i]!, n: c.n[i]!, sum: c.sum[i]!, min: c.min[i]!, max: c.max[i]! }));
  }

  private slot(name: string, t: number, group: string, field: string, min: number, max: number): number {
    const key = `${name}\u0000${t}\u0000${group}\u0000${field}`;
    let i = this.index.get(key);
    if (i === undefined) {
      const c = this.columns;
      i = c.t.length;
      this.index.set(key, i);
      c.name.push(name);
      c.t.push(t);
      c.group.push(group);
      c.field.push(field);
      c.n.push(0);
      c.sum.push(0);
      c.min.push(min);
      c.max.push(max);
    }
    return i;
  }
}

/** The compiled definitions a store holds in memory, and the batch they make of an append's events. */
export class CompiledAggregates {
  private compiler: AggregateCompiler | undefined;
  private entries: Array<{ name: string; compiled: CompiledAggregate }> = [];
  /** The definitions' version the entries were compiled from; undefined: to be loaded. */
  version: number | undefined;

  get ready(): boolean {
    return this.compiler !== undefined;
  }

  use(compiler: AggregateCompiler): void {
    this.compiler = compiler;
    this.version = undefined;
  }

  /** Compiles the definitions as of `version`. A definition that no longer compiles counts nothing (and is logged by the hub when read). */
  load(aggregates: readonly StoredAggregate[], version: number): void {
    const compiler = this.compiler;
    if (!compiler) return;
    this.entries = aggregates.flatMap((a) => {
      try {
        return [{ name: a.name, compiled: compiler(a) }];
      } catch {
        return [];
      }
    });
    this.version = version;
  }

  /** The cells of a batch of stored events (in lists, one per request); empty without definitions. */
  batch(lists: ReadonlyArray<readonly StoredEvent[]>): CellBatch {
    const batch = new CellBatch();
    for (const { name, compiled } of this.entries) for (const events of lists) batch.add(name, compiled, events);
    return batch;
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }
}

/** A row of `continuous_aggregates`. */
export interface AggregateRow {
  name: string;
  spec: string;
  created_at: number | string;
  created_seq: number | string;
  backfill_state: string | null;
  backfill_from: number | string | null;
  backfill_to: number | string | null;
  backfill_start_seq: number | string | null;
  backfill_cursor: number | string | null;
  published_until: number | string | null;
}

/** A row of `aggregate_cells`, without the name. */
export interface CellRow {
  t: number | string;
  grp: string;
  field: string;
  n: number | string;
  sum: number;
  min: number;
  max: number;
}

const num = (v: number | string): number => Number(v);
const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** A row as the domain's {@link StoredAggregate}. */
export function toStoredAggregate(r: AggregateRow): StoredAggregate {
  return {
    name: r.name,
    spec: JSON.parse(r.spec) as unknown,
    createdAt: num(r.created_at),
    createdSeq: num(r.created_seq),
    backfill:
      r.backfill_state === null
        ? null
        : {
            state: r.backfill_state as AggregateBackfill["state"],
            from: numOrNull(r.backfill_from),
            to: numOrNull(r.backfill_to),
            startSeq: num(r.backfill_start_seq ?? 0),
            cursor: num(r.backfill_cursor ?? 0),
          },
    publishedUntil: numOrNull(r.published_until),
  };
}

/** A cell row as the domain's {@link AggregateCell}. */
export function toCell(r: CellRow): AggregateCell {
  return { t: num(r.t), group: r.grp, field: r.field, n: num(r.n), sum: Number(r.sum), min: Number(r.min), max: Number(r.max) };
}

/** The backfill as the five parameters of the update statements: state, from, to, start seq, cursor. */
export function backfillParams(b: AggregateBackfill): Array<string | number | null> {
  return [b.state, b.from, b.to, b.startSeq, b.cursor];
}
