import pg from "pg";
import { importDist } from "./dist.js";

type StoreModule = typeof import("../../src/store/index.js");
type PgStore = import("../../src/store/index.js").PgStore;

/** The store's per-request append statement, its advisory lock key of appends and its int8 parsing. */
export { APPEND_SQL } from "../../src/store/postgres/sql/append.js";
export { APPEND_LOCK } from "../../src/store/postgres/sql/locks.js";
export { PG_TYPES } from "../../src/store/postgres/pg-util.js";

/** The value the next nextval('events_seq') returns. */
export const NEXT_SEQ_SQL = `SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END AS next FROM events_seq`;

/** Opens the hub's PostgreSQL store (built, from dist/) on `url` and applies its migrations, as the hub does at start. */
export async function openMigratedPgStore(url: string): Promise<PgStore> {
  const { openPgStore } = await importDist<StoreModule>("store/index.js");
  const store = openPgStore({ url, maxConnections: 2 });
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/**
 * Makes the store's event partitions cover seq values up to `uptoSeq`, when the store partitions its events table by
 * ranges of seq (PgStore.ensureEventPartitions); rows with a seq no partition covers would be refused. A no-op on a
 * store without partitions.
 */
export async function ensureEventPartitions(store: PgStore, uptoSeq: number): Promise<void> {
  if (typeof (store as any).ensureEventPartitions === "function") await (store as any).ensureEventPartitions(uptoSeq);
}

/**
 * Keeps the event partitions ahead of raw inserts that take their seq from nextval('events_seq') in one process:
 * `reserve(n)` before inserting n rows. Partitions are made `ahead` seq values at a time, so the timed loop rarely
 * waits for one.
 */
export class PartitionGuard {
  private next: number;
  private coveredTo = 0;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly store: PgStore,
    firstSeq: number,
    private readonly ahead = 2_000_000,
  ) {
    this.next = firstSeq;
  }

  async reserve(count: number): Promise<void> {
    this.next += count;
    while (this.next - 1 > this.coveredTo) {
      const upto = this.next + this.ahead;
      this.pending ??= ensureEventPartitions(this.store, upto)
        .then(() => {
          this.coveredTo = Math.max(this.coveredTo, upto);
        })
        .finally(() => (this.pending = undefined));
      await this.pending;
    }
  }
}

/** A {@link PartitionGuard} starting at the sequence's next value. */
export async function partitionGuard(store: PgStore, client: pg.Client): Promise<PartitionGuard> {
  const { rows } = await client.query<{ next: number }>(NEXT_SEQ_SQL);
  return new PartitionGuard(store, rows[0]!.next);
}
