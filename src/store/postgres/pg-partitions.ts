import type pg from "pg";
import {
  attachPartitionSql,
  createPartitionSql,
  detachPartitionSql,
  dropTableSql,
  finalizeDetachSql,
  LAST_SEQ,
  LIST_DETACHED_LEFTOVERS,
  LIST_PARTITIONS,
  LOCK_PARTITIONS,
  LOWER_TOPIC_COUNTS,
  partitionCountsSql,
  partitionTopicsSql,
  SEQUENCE_VALUE,
  TRY_LOCK_DROPPER,
  UNLOCK_DROPPER,
} from "./sql/partitions.js";
import { translateError, type PgContext } from "./pg-util.js";

/**
 * Seq values per partition of the events table: at 300 million events that is 30 partitions, few enough that
 * lookups by id (which probe every partition) stay cheap, and each one is dropped in one step once it has expired.
 */
export const DEFAULT_PARTITION_SIZE = 10_000_000;

/** The partitions of the event log (by seq range): created ahead of appends, dropped whole once expired. */
export class PgPartitions {
  /** The end (exclusive) of the highest partition of the event log, as last seen; 0 before the first look. */
  private partitionEnd = 0;
  private ensuring: Promise<void> | undefined;

  constructor(
    private readonly ctx: PgContext,
    readonly partitionSize: number = DEFAULT_PARTITION_SIZE,
  ) {}

  /**
   * Makes sure partitions of the event log cover every seq up to `uptoSeq` (and at least one partition beyond the
   * sequence's current value). Appends call it ahead of need, so ingest never waits for it; several nodes may call
   * it at once (an advisory lock serializes them). A new partition is created empty and then attached, which locks
   * the events table only in SHARE UPDATE EXCLUSIVE mode: reads and appends go on meanwhile.
   */
  async ensure(uptoSeq = 0): Promise<void> {
    await this.ctx.transaction(async (client) => {
      await client.query(LOCK_PARTITIONS);
      const { rows } = await client.query<{ last: number }>(SEQUENCE_VALUE);
      let end = 1;
      for (const p of await listPartitions(client)) if (p.to !== null && p.to > end) end = p.to;
      const target = Math.max(rows[0]!.last, uptoSeq) + this.partitionSize;
      while (end <= target) {
        const from = end;
        const to = from + this.partitionSize;
        await client.query(createPartitionSql(from));
        await client.query(attachPartitionSql(from, to));
        end = to;
      }
      this.partitionEnd = end;
    });
  }

  /** Starts {@link ensure} unless one is running; failures are retried by the next append. */
  ensureSoon(uptoSeq: number): Promise<void> {
    this.ensuring ??= this.ensure(uptoSeq)
      .catch(() => {}) // the next append past the threshold tries again, and an append with no partition waits for it
      .finally(() => (this.ensuring = undefined));
    return this.ensuring;
  }

  /** Starts {@link ensure} soon when `lastStored` is within half a partition of the end. */
  ensureAhead(lastStored: number): void {
    if (lastStored + this.partitionSize / 2 >= this.partitionEnd) void this.ensureSoon(lastStored);
  }

  /**
   * Retention's fast path: drops whole partitions of the event log in which every event has expired, lowering the
   * topics' event counts by what each held. A partition qualifies once the sequence has moved past it (nothing can be
   * added to it) and, for every topic with events in it, its newest event there was received before
   * `cutoffFor(topic)` (`undefined`: the topic keeps its events forever). The partition is detached CONCURRENTLY,
   * so appends and reads go on meanwhile, then dropped; a crash in between is finished by the next call.
   */
  async dropExpired(cutoffFor: (topic: string) => number | undefined): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    const client = await this.ctx.wrap(this.ctx.pool.connect());
    let broken: Error | undefined;
    try {
      // One dropper at a time across nodes: two concurrent detaches of one table would fail.
      const { rows: locked } = await client.query<{ ok: boolean }>(TRY_LOCK_DROPPER);
      if (!locked[0]!.ok) return removed;
      try {
        const partitions = await listPartitions(client);
        // A detach interrupted by a crash is completed first.
        for (const p of partitions.filter((p) => p.detachPending)) {
          await client.query(finalizeDetachSql(p.name));
          await this.dropDetached(client, p.name, removed);
        }
        for (const name of await listDetachedLeftovers(client)) await this.dropDetached(client, name, removed);
        const lastSeq = (await client.query<{ seq: number }>(LAST_SEQ)).rows[0]!.seq;
        const { rows: seqRows } = await client.query<{ last: number }>(SEQUENCE_VALUE);
        const sealedBelow = Math.min(lastSeq, seqRows[0]!.last) + 1;
        for (const p of partitions) {
          if (p.detachPending || p.to === null || p.to > sealedBelow) continue;
          if (!(await this.partitionExpired(client, p.name, cutoffFor))) continue;
          await client.query(detachPartitionSql(p.name));
          await this.dropDetached(client, p.name, removed);
        }
      } finally {
        await client.query(UNLOCK_DROPPER);
      }
      return removed;
    } catch (error) {
      broken = error as Error;
      throw translateError(error);
    } finally {
      client.release(broken);
    }
  }

  /** Whether every topic with events in the partition has them all before its cutoff. */
  private async partitionExpired(client: pg.PoolClient, name: string, cutoffFor: (topic: string) => number | undefined): Promise<boolean> {
    // The topics present, by skipping through the (topic, received_at) index rather than reading every row.
    const { rows } = await client.query<{ topic: string; newest: number }>(partitionTopicsSql(name));
    return rows.every((r) => {
      const cutoff = cutoffFor(r.topic);
      return cutoff !== undefined && r.newest < cutoff;
    });
  }

  /** Counts what a detached partition held per topic, lowers the topics' counts and drops it, in one transaction. */
  private async dropDetached(client: pg.PoolClient, name: string, removed: Record<string, number>): Promise<void> {
    await client.query(`BEGIN`);
    try {
      const { rows } = await client.query<{ topic: string; n: number }>(partitionCountsSql(name));
      if (rows.length > 0) {
        await client.query(LOWER_TOPIC_COUNTS, [rows.map((r) => r.topic), rows.map((r) => r.n)]);
      }
      await client.query(dropTableSql(name));
      await client.query(`COMMIT`);
      for (const r of rows) removed[r.topic] = (removed[r.topic] ?? 0) + r.n;
    } catch (error) {
      await client.query(`ROLLBACK`);
      throw error;
    }
  }
}

/** A partition of the events table as the catalog describes it; `from`/`to` null for MINVALUE/MAXVALUE. */
interface PartitionInfo {
  name: string;
  from: number | null;
  to: number | null;
  detachPending: boolean;
}

/** The partitions attached to (or being detached from) the events table, in seq order. */
async function listPartitions(client: pg.PoolClient): Promise<PartitionInfo[]> {
  const { rows } = await client.query<{ name: string; bound: string; pending: boolean }>(LIST_PARTITIONS);
  const bound = (text: string | undefined): number | null => (text === undefined || /VALUE/.test(text) ? null : Number(text.replace(/'/g, "")));
  return rows
    .map((r) => {
      const m = /FROM \((.+?)\) TO \((.+?)\)/.exec(r.bound);
      return { name: r.name, from: bound(m?.[1]), to: bound(m?.[2]), detachPending: r.pending };
    })
    .sort((a, b) => (a.from ?? -Infinity) - (b.from ?? -Infinity));
}

/** Former partitions detached but not yet dropped (a crash between the two steps). */
async function listDetachedLeftovers(client: pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(LIST_DETACHED_LEFTOVERS);
  return rows.map((r) => r.name);
}
