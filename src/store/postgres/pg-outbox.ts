import { eventFromOutbox, type OutboxColumns } from "../outbox-rows.js";
import type { OutboxEntry, OutboxPart } from "../store.js";
import type { PgContext } from "./pg-util.js";
import { OUTBOX_DISCARD, OUTBOX_PENDING } from "./sql/outbox.js";

/** The PostgreSQL outbox: rows applications committed, read by the relay of every node. */
export class PgOutbox implements OutboxPart {
  constructor(private readonly ctx: PgContext) {}

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { rows } = await this.ctx.query<OutboxColumns & { id: string }>(OUTBOX_PENDING, [limit]);
    return rows.map((row) => ({ id: row.id, event: eventFromOutbox(row) }));
  }

  async discard(id: string): Promise<boolean> {
    return ((await this.ctx.query(OUTBOX_DISCARD, [id])).rowCount ?? 0) > 0;
  }
}
