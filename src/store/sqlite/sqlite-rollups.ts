import type Database from "better-sqlite3";
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
  deliveryMinutes,
  eventMinutes,
  pruneBounds,
  ROLLUP_LAG_MS,
  type DeliveryStatsBucket,
  type DeliveryStatsQuery,
  type EventStatsBucket,
  type EventStatsQuery,
  type RollUpRequest,
  type RollupsPart,
} from "../rollups.js";
import type { AttemptRecord, StoredEvent } from "../store.js";
import * as SQL from "./sql/rollups.js";
import { SqlitePart } from "./sqlite-state.js";

const SQLITE: RollupDialect = { ph: () => "?", int: (ph) => `CAST(${ph} AS INTEGER)` };

/** SQLite rollups: minutes written inside the append and attempt transactions, hours and days derived by housekeeping. */
export class SqliteRollups extends SqlitePart<keyof typeof SQL> implements RollupsPart {
  /** `writes` false: commits write no rollups (`SWITCHBOARD_ROLLUPS=false`); reads and housekeeping still work. */
  constructor(
    db: Database.Database,
    private readonly writes = true,
  ) {
    super(db, SQL);
  }

  /** Inside the append transaction: one upsert per distinct (minute, topic, type) of the batch, and per (minute, type) for the sum over every topic. */
  addEvents(events: ReadonlyArray<readonly StoredEvent[]>): void {
    if (!this.writes) return;
    const m = eventMinutes(events);
    for (let i = 0; i < m.t.length; i++) this.s.UPSERT_EVENT_MINUTE.run(m.t[i], m.topic[i], m.type[i], m.count[i], m.bytes[i]);
  }

  /** Inside the attempts transaction: one upsert per distinct (minute, subscription) of the attempts of known deliveries. */
  addAttempts(records: readonly AttemptRecord[]): void {
    if (!this.writes) return;
    for (const m of deliveryMinutes(records)) {
      this.s.UPSERT_DELIVERY_MINUTE.run(m.t, m.subscriptionId, m.delivered, m.failed, m.dead, m.latencySum, ...m.h);
    }
  }

  async eventStats(q: EventStatsQuery): Promise<EventStatsBucket[]> {
    const { sql, params } = eventStatsSql(q, this.marks(), SQLITE);
    return (this.db.prepare(sql).all(...params) as Array<Parameters<typeof toEventBucket>[0]>).map(toEventBucket);
  }

  async deliveryStats(q: DeliveryStatsQuery): Promise<DeliveryStatsBucket[]> {
    const { sql, params } = deliveryStatsSql(q, this.marks(), SQLITE);
    return (
      this.db
        .prepare(sql)
        .raw(true)
        .all(...params) as DeliveryStatsRow[]
    ).map(toDeliveryBucket);
  }

  async rollUp(r: RollUpRequest): Promise<void> {
    this.db
      .transaction(() => {
        const marks = this.marks();
        let finerMark = r.now - ROLLUP_LAG_MS; // minutes are complete up to now, less the lag
        for (const { res, finer } of DERIVED) {
          const mark = marks.get(res);
          const oldest = mark === undefined ? ((this.s.OLDEST.get({ res: finer }) as { t: number | null }).t ?? undefined) : undefined;
          const range = rollUpRange(res, finerMark, mark, oldest);
          if (range) {
            for (const { sql, params } of deriveSql(res, finer, range.from, range.to, SQLITE)) this.db.prepare(sql).run(...params);
            this.s.SET_MARK.run(res, range.to);
            marks.set(res, range.to);
          }
          finerMark = marks.get(res) ?? -Infinity;
        }
        for (const { res, before } of pruneBounds(r, marks)) {
          this.s.PRUNE_EVENTS.run(res, before);
          this.s.PRUNE_DELIVERIES.run(res, before);
        }
      })
      .immediate();
  }

  private marks(): Map<number, number> {
    return new Map((this.s.MARKS.all() as Array<{ res: number; rolled_until: number }>).map((m) => [m.res, m.rolled_until]));
  }
}
