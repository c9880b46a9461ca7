import type pg from "pg";
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

  /**
   * Reads the marks and then the query built from them, without parallel workers: a stats query reads a few thousand
   * rows, and the planner's parallel plans for it spent 10–40 ms starting workers (measured by `npm run bench -- --only
   * pg-stats`). One transaction, so that the setting ends with it.
   */
  private async read(build: (marks: Map<number, number>) => { sql: string; params: unknown[] }, rowMode?: "array"): Promise<pg.QueryResultRow[]> {
    return this.ctx.transaction(async (client) => {
      const results = (await client.query(`SET LOCAL max_parallel_workers_per_gather = 0; ${MARKS}`)) as unknown as pg.QueryResult[];
      const { sql, params } = build(toMarks(results[1]!.rows as Array<{ res: number; rolled_until: number }>));
      return (await client.query({ text: sql, values: params, ...(rowMode && { rowMode }) })).rows;
    });
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
