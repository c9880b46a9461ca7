import pg from "pg";
import { importDist } from "./dist.js";

type StoreModule = typeof import("../../src/store/index.js");
type PgStore = import("../../src/store/index.js").PgStore;

/**
 * The store's per-request append statement (APPEND_SQL in src/store/postgres/pg-store.ts), word for word, for the
 * client-library comparison. Keep the two in step.
 */
export const APPEND_SQL = `WITH ins AS (
     INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at)
     SELECT nextval('events_seq'), u.id, u.topic, u.type, u.source, u.subject, u.time, u.key, u.data, u.attributes::json, u.received_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[])
       WITH ORDINALITY AS u(id, topic, type, source, subject, time, key, data, attributes, received_at, ord)
     ORDER BY u.ord
     RETURNING id, seq, topic
   ), created AS (
     INSERT INTO topics (name, created_at, updated_at)
     SELECT DISTINCT topic, $11::bigint, $11::bigint FROM ins WHERE $12::boolean
     ON CONFLICT (name) DO NOTHING
   )
   SELECT id, seq FROM ins`;

/** The store's advisory lock key of appends ("SBAP"). */
export const APPEND_LOCK = 0x5342_4150;

/** int8 read as a number, as the store reads it (epoch ms, seqs and counts are well inside 2^53). */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20 && format !== "binary" ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

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
