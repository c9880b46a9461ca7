import pg from "pg";
import {
  deliveryStatsSql,
  deriveSql,
  eventStatsSql,
  DERIVED,
  rollUpRange,
  toDeliveryBucket,
  toEventBucket,
  type DeliveryStatsRow,
  type RollupDialect,
} from "../rollup-sql.js";
import {
  pruneBounds,
  ROLLUP_LAG_MS,
  type DeliveryStatsBucket,
  type DeliveryStatsQuery,
  type EventStatsBucket,
  type EventStatsQuery,
  type RollUpRequest,
  type RollupsPart,
} from "../rollups.js";
import type { PgContext } from "./pg-util.js";
import { LOCK_ROLLUP, MARKS, OLDEST, PRUNE, SET_MARK } from "./sql/rollups.js";

const POSTGRES: RollupDialect = { ph: (n) => `$${n}`, int: (ph) => `${ph}::bigint` };

/** PostgreSQL rollups: minutes written by the append and attempt statements, hours and days derived by housekeeping. */
export class PgRollups implements RollupsPart {
  constructor(private readonly ctx: PgContext) {}

  async eventStats(q: EventStatsQuery): Promise<EventStatsBucket[]> {
    return (await this.read((marks) => eventStatsSql(q, marks, POSTGRES))).map((r) => toEventBucket(r as Parameters<typeof toEventBucket>[0]));
  }

  async deliveryStats(q: DeliveryStatsQuery): Promise<DeliveryStatsBucket[]> {
    return (await this.read((marks) => deliveryStatsSql(q, marks, POSTGRES), "array")).map((r) => toDeliveryBucket(r as unknown as DeliveryStatsRow));
  }

  /** The marks the last read found: the stats query is built from them before the marks are read with it. */
  private marks = new Map<number, number>();

  /**
   * Runs the query `build` makes from the marks, in one round trip: one simple-protocol message that reads the marks
   * and the query in one snapshot (a READ ONLY, REPEATABLE READ transaction: the statements of one message are one
   * transaction), without parallel workers (`SET LOCAL`, which ends with it: a stats query reads a few thousand rows,
   * and the planner's parallel plans for it spent 10–40 ms starting workers, measured by `npm run bench -- --only
   * pg-stats`). The query is built from the marks the last read found; when the marks read with it differ, and the
   * query built from them differs too (a roll-up ran in between), it runs again with them, so that the buckets always
   * come from the marks of their snapshot. Was four round trips (BEGIN, marks, query, COMMIT): see
   * docs/aggregation.md.
   */
  private async read(build: (marks: ReadonlyMap<number, number>) => { sql: string; params: unknown[] }, rowMode?: "array"): Promise<pg.QueryResultRow[]> {
    let built = build(this.marks);
    for (;;) {
      const text = `${READ_PRELUDE} ${MARKS}; ${inlineParams(built.sql, built.params)}`;
      const results = (await this.ctx.wrap(this.ctx.pool.query({ text, ...(rowMode && { rowMode }) }))) as unknown as pg.QueryResult[];
      const marks = new Map<number, number>(
        results[2]!.rows.map((m: pg.QueryResultRow) => (Array.isArray(m) ? [m[0] as number, m[1] as number] : [m.res as number, m.rolled_until as number])),
      );
      if (sameMarks(marks, this.marks)) return results[3]!.rows;
      this.marks = marks;
      const rebuilt = build(marks);
      if (rebuilt.sql === built.sql && sameParams(rebuilt.params, built.params)) return results[3]!.rows;
      built = rebuilt; // marks move once per roll-up, so this converges at once
    }
  }

  async rollUp(r: RollUpRequest): Promise<void> {
    await this.ctx.transaction(async (client) => {
      await client.query(LOCK_ROLLUP);
      const marks = toMarks((await client.query<{ res: number; rolled_until: number }>(MARKS)).rows);
      let finerMark = r.now - ROLLUP_LAG_MS; // minutes are complete up to now, less the lag
      for (const { res, finer } of DERIVED) {
        const mark = marks.get(res);
        const oldest = mark === undefined ? ((await client.query<{ t: number | null }>(OLDEST, [finer])).rows[0]!.t ?? undefined) : undefined;
        const range = rollUpRange(res, finerMark, mark, oldest);
        if (range) {
          for (const { sql, params } of deriveSql(res, finer, range.from, range.to, POSTGRES)) await client.query(sql, params);
          await client.query(SET_MARK, [res, range.to]);
          marks.set(res, range.to);
        }
        finerMark = marks.get(res) ?? -Infinity;
      }
      for (const { res, before } of pruneBounds(r, marks)) await client.query(PRUNE, [res, before]);
    });
  }
}

function toMarks(rows: Array<{ res: number; rolled_until: number }>): Map<number, number> {
  return new Map(rows.map((m) => [m.res, m.rolled_until]));
}

/** The stats reads' transaction: read only, one snapshot for the marks and the query, no parallel workers. */
const READ_PRELUDE = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0;";

/**
 * The text of a statement with its `$n` parameters written as literals, for a simple-protocol message (which takes no
 * parameters, but takes several statements). Only for our statements, whose text holds no `$` but placeholders: the
 * values are integers (times, resolutions) and texts (topics, types, subscription ids), written by `escapeLiteral`.
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n) - 1];
    if (typeof value === "string") return pg.escapeLiteral(value);
    if (typeof value === "number" && Number.isSafeInteger(value)) return `(${value})`;
    throw new TypeError(`no literal for parameter $${n}: ${typeof value}`);
  });
}

function sameMarks(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [res, t] of a) if (b.get(res) !== t) return false;
  return true;
}

function sameParams(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
