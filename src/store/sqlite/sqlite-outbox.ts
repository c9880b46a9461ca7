import type Database from "better-sqlite3";
import { eventFromOutbox, type OutboxColumns } from "../outbox-rows.js";
import type { OutboxEntry, OutboxPart } from "../store.js";
import * as SQL from "./sql/outbox.js";
import { SqlitePart } from "./sqlite-state.js";

/** The SQLite outbox: rows other connections to the file (the application's) committed, read by the relay. */
export class SqliteOutbox extends SqlitePart<keyof typeof SQL> implements OutboxPart {
  constructor(db: Database.Database) {
    super(db, SQL);
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const rows = this.s.OUTBOX_PENDING.all(limit) as Array<OutboxColumns & { id: number }>;
    return rows.map((row) => ({ id: String(row.id), event: eventFromOutbox(row) }));
  }

  async discard(id: string): Promise<boolean> {
    return this.s.OUTBOX_DISCARD.run(id).changes > 0;
  }
}
