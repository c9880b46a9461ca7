import { HubError } from "../../errors.js";
import {
  backfillParams,
  CompiledAggregates,
  toCell,
  toStoredAggregate,
  type AggregateBackfill,
  type AggregateCell,
  type AggregateCompiler,
  type AggregateRow,
  type AggregatesPart,
  type CellRow,
  type StoredAggregate,
} from "../continuous-aggregates.js";
import type { StoredEvent } from "../store.js";
import * as SQL from "./sql/aggregates.js";
import { SqlitePart, type SqliteState } from "./sqlite-state.js";

/**
 * SQLite continuous aggregates. One process owns the file, so the compiled definitions in memory are those of the
 * database: they are reloaded whenever this part changes them.
 */
export class SqliteAggregates extends SqlitePart<keyof typeof SQL> implements AggregatesPart {
  private readonly compiled = new CompiledAggregates();

  constructor(private readonly state: SqliteState) {
    super(state.db, SQL);
  }

  useCompiler(compiler: AggregateCompiler): void {
    this.compiled.use(compiler);
  }

  /** Inside the append transaction: one upsert per distinct (aggregate, bucket, group, field) of the batch. */
  addEvents(lists: ReadonlyArray<readonly StoredEvent[]>): void {
    if (!this.compiled.ready) return;
    if (this.compiled.version === undefined) this.compiled.load(this.rows(), 0);
    if (this.compiled.empty) return;
    const c = this.compiled.batch(lists).columns;
    for (let i = 0; i < c.t.length; i++) this.s.UPSERT_CELL.run(c.name[i], c.t[i], c.group[i], c.field[i], c.n[i], c.sum[i], c.min[i], c.max[i]);
  }

  async create(name: string, spec: unknown, now: number): Promise<StoredAggregate> {
    // Appends run synchronously on this thread: nothing commits between reading nextSeq and the insert.
    const createdSeq = this.state.nextSeq - 1;
    if (this.s.INSERT.run(name, JSON.stringify(spec), now, createdSeq).changes === 0) {
      throw new HubError("SB_AGGREGATE_EXISTS", `aggregate ${JSON.stringify(name)} exists already`);
    }
    this.compiled.version = undefined;
    return (await this.get(name))!;
  }

  async list(): Promise<StoredAggregate[]> {
    return this.rows();
  }

  async get(name: string): Promise<StoredAggregate | undefined> {
    const row = this.s.GET.get(name) as AggregateRow | undefined;
    return row && toStoredAggregate(row);
  }

  async delete(name: string): Promise<boolean> {
    const removed = this.db.transaction(() => {
      this.s.DELETE_CELLS.run(name);
      return this.s.DELETE.run(name).changes > 0;
    })();
    this.compiled.version = undefined;
    return removed;
  }

  async cells(name: string, from: number, to: number): Promise<AggregateCell[]> {
    return (this.s.CELLS.all(name, from, to) as CellRow[]).map(toCell);
  }

  async setBackfill(name: string, backfill: AggregateBackfill, expectedCursor: number | null): Promise<boolean> {
    return this.s.SET_BACKFILL.run(...backfillParams(backfill), name, expectedCursor).changes > 0;
  }

  async addBackfillPage(name: string, cells: AggregateCell[], backfill: AggregateBackfill, expectedCursor: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.s.SET_BACKFILL.run(...backfillParams(backfill), name, expectedCursor).changes === 0) return false;
      for (const c of cells) this.s.UPSERT_CELL.run(name, c.t, c.group, c.field, c.n, c.sum, c.min, c.max);
      return true;
    })();
  }

  async setPublished(name: string, until: number, expected: number | null): Promise<boolean> {
    return this.s.SET_PUBLISHED.run(until, name, expected).changes > 0;
  }

  private rows(): StoredAggregate[] {
    return (this.s.LIST.all() as AggregateRow[]).map(toStoredAggregate);
  }
}
