import type pg from "pg";
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
  type CellColumns,
  type CellRow,
  type StoredAggregate,
} from "../continuous-aggregates.js";
import type { StoredEvent } from "../store.js";
import type { PgContext } from "./pg-util.js";
import { CELLS, DELETE, GET, INSERT, LIST, LOCK_APPENDS, SET_BACKFILL, SET_PUBLISHED, UPSERT_CELLS, UPSERT_CELLS_STATEMENT_NAME } from "./sql/aggregates.js";

/**
 * PostgreSQL continuous aggregates. Several nodes share the definitions: each change bumps `aggregates_version` under
 * the append lock, and every append reads that version (in the round trip that takes the lock) and, when it differs
 * from the one its compiled definitions came from, reloads them in its transaction. So no node counts an event with
 * stale definitions, at the cost of nothing on appends while the definitions do not change.
 */
export class PgAggregates implements AggregatesPart {
  private readonly compiled = new CompiledAggregates();

  constructor(private readonly ctx: PgContext) {}

  useCompiler(compiler: AggregateCompiler): void {
    this.compiled.use(compiler);
  }

  /** Inside the append transaction, under the lock: reloads the definitions when `version` is not theirs. */
  async sync(client: pg.PoolClient, version: number): Promise<void> {
    if (!this.compiled.ready || this.compiled.version === version) return;
    this.compiled.load((await client.query<AggregateRow>(LIST)).rows.map(toStoredAggregate), version);
  }

  /**
   * The definitions' version an append may be written at in one statement, its cells counted with the definitions
   * loaded now (see {@link cellsOf}): null when this node counts no aggregates; undefined when none are loaded yet,
   * and the append must load them in its transaction (see APPEND_ONE_TRIP_SQL).
   */
  oneTripVersion(): number | null | undefined {
    if (!this.compiled.ready) return null;
    return this.compiled.version;
  }

  /**
   * The cells of a batch, counted with the definitions loaded now, as the eight column parameters of upsertCellsSql;
   * undefined when there are none.
   */
  cellsOf(lists: ReadonlyArray<readonly StoredEvent[]>): unknown[] | undefined {
    if (!this.compiled.ready || this.compiled.empty) return undefined;
    const batch = this.compiled.batch(lists);
    return batch.size > 0 ? cellParams(batch.columns) : undefined;
  }

  /**
   * Inside the append transaction: the batch's cells in one statement (none without definitions), prepared once per
   * connection rather than parsed and planned at every batch.
   */
  async addEvents(client: pg.PoolClient, lists: ReadonlyArray<readonly StoredEvent[]>): Promise<void> {
    const cells = this.cellsOf(lists);
    if (cells) await client.query({ name: UPSERT_CELLS_STATEMENT_NAME, text: UPSERT_CELLS, values: cells });
  }

  async create(name: string, spec: unknown, now: number): Promise<StoredAggregate> {
    const row = await this.ctx.transaction(async (client) => {
      await client.query(LOCK_APPENDS);
      return (await client.query<AggregateRow>(INSERT, [name, JSON.stringify(spec), now])).rows[0];
    });
    if (!row) throw new HubError("SB_AGGREGATE_EXISTS", `aggregate ${JSON.stringify(name)} exists already`);
    return toStoredAggregate(row);
  }

  async list(): Promise<StoredAggregate[]> {
    return this.ctx.all(LIST, [], toStoredAggregate);
  }

  async get(name: string): Promise<StoredAggregate | undefined> {
    return this.ctx.one(GET, [name], toStoredAggregate);
  }

  async delete(name: string): Promise<boolean> {
    return this.ctx.transaction(async (client) => {
      await client.query(LOCK_APPENDS);
      return (await client.query<{ n: number }>(DELETE, [name])).rows[0]!.n > 0;
    });
  }

  async cells(name: string, from: number, to: number): Promise<AggregateCell[]> {
    return this.ctx.all(CELLS, [name, from, to], (r: CellRow) => toCell(r));
  }

  async setBackfill(name: string, backfill: AggregateBackfill, expectedCursor: number | null): Promise<boolean> {
    return ((await this.ctx.query(SET_BACKFILL, [...backfillParams(backfill), name, expectedCursor])).rowCount ?? 0) > 0;
  }

  async addBackfillPage(name: string, cells: AggregateCell[], backfill: AggregateBackfill, expectedCursor: number): Promise<boolean> {
    return this.ctx.transaction(async (client) => {
      if (((await client.query(SET_BACKFILL, [...backfillParams(backfill), name, expectedCursor])).rowCount ?? 0) === 0) return false;
      if (cells.length > 0) {
        const c: CellColumns = { name: [], t: [], group: [], field: [], n: [], sum: [], min: [], max: [] };
        for (const cell of cells) {
          c.name.push(name);
          c.t.push(cell.t);
          c.group.push(cell.group);
          c.field.push(cell.field);
          c.n.push(cell.n);
          c.sum.push(cell.sum);
          c.min.push(cell.min);
          c.max.push(cell.max);
        }
        await client.query(UPSERT_CELLS, cellParams(c));
      }
      return true;
    });
  }

  async setPublished(name: string, until: number, expected: number | null): Promise<boolean> {
    return ((await this.ctx.query(SET_PUBLISHED, [until, name, expected])).rowCount ?? 0) > 0;
  }
}

function cellParams(c: CellColumns): unknown[] {
  return [c.name, c.t, c.group, c.field, c.n, c.sum, c.min, c.max];
}
