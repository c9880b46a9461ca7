/**
 * An application's side of the outbox in tests: its own connection to the hub's database (a better-sqlite3
 * `Database` on the hub's file, or a `pg` client), a business table, and transactions that write both.
 */
import Database from "better-sqlite3";
import pg from "pg";
import type { Hub, PublishInput } from "../../src/hub.js";

/** The application: its own connection, writing orders and outbox events in one transaction. */
export interface OutboxCaller {
  /** One transaction: an order row and `inputs` through `hub.outbox`; committed, or rolled back. Returns the event ids. */
  transaction(hub: Hub, inputs: PublishInput[], outcome: "commit" | "rollback"): Promise<string[]>;
  /** Rows in the outbox table and in the business table. */
  counts(): Promise<{ outbox: number; orders: number }>;
  close(): Promise<void>;
}

class Rollback extends Error {}

/** The application on the SQLite file `path` (the hub's), in `db.transaction()`. */
export function sqliteCaller(path: string): OutboxCaller {
  const db = new Database(path);
  db.pragma("busy_timeout = 5000");
  db.exec(`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT)`);
  return {
    async transaction(hub, inputs, outcome) {
      const ids: string[] = [];
      try {
        db.transaction(() => {
          db.prepare(`INSERT INTO orders (note) VALUES (?)`).run(outcome);
          for (const input of inputs) ids.push(hub.outbox.publish(db, input).id);
          if (outcome === "rollback") throw new Rollback();
        })();
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return ids;
    },
    async counts() {
      const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      return { outbox: count("outbox"), orders: count("orders") };
    },
    async close() {
      db.close();
    },
  };
}

/** The application on PostgreSQL `url`, with BEGIN … COMMIT / ROLLBACK on its own client. */
export async function pgCaller(url: string): Promise<OutboxCaller> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, note text)`);
  return {
    async transaction(hub, inputs, outcome) {
      const ids: string[] = [];
      await client.query("BEGIN");
      try {
        await client.query(`INSERT INTO orders (note) VALUES ($1)`, [outcome]);
        for (const input of inputs) ids.push((await hub.outbox.publish(client, input)).id);
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
      await client.query(outcome === "commit" ? "COMMIT" : "ROLLBACK");
      return ids;
    },
    async counts() {
      const count = async (table: string) => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
      return { outbox: await count("outbox"), orders: await count("orders") };
    },
    async close() {
      await client.end();
    },
  };
}
