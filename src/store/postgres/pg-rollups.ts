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
    const { sql, params } = eventStatsSql(q, await this.marks(), POSTGRES);
    return (await this.ctx.query<Parameters<typeof toEventBucket>[0]>(sql, params)).rows.map(toEventBucket);
  }

  async deliveryStats(q: DeliveryStatsQuery): Promise<DeliveryStatsBucket[]> {
    const { sql, params } = deliveryStatsSql(q, await this.marks(), POSTGRES);
    return (await this.ctx.query<DeliveryStatsRow>(sql, params)).rows.map(toDeliveryBucket);
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

  private async marks(): Promise<Map<number, number>> {
    return toMarks((await this.ctx.query<{ res: number; rolled_until: number }>(MARKS)).rows);
  }
}

function toMarks(rows: Array<{ res: number; rolled_until: number }>): Map<number, number> {
  return new Map(rows.map((m) => [m.res, m.rolled_until]));
}
