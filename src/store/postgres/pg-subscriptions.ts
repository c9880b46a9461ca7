import { HubError } from "../../errors.js";
import { SUBSCRIPTION_PATCH_COLUMNS, type SubscriptionRow } from "../rows.js";
import type { Subscription, SubscriptionPatch, SubscriptionsPart } from "../store.js";
import { isUniqueViolation, PG_ROWS, type PgContext } from "./pg-util.js";

/** PostgreSQL subscriptions. */
export class PgSubscriptions implements SubscriptionsPart {
  constructor(private readonly ctx: PgContext) {}

  async create(sub: Subscription): Promise<void> {
    try {
      await this.ctx.query(
        `INSERT INTO subscriptions (id, topic, url, filter, headers, secret, active, disabled_reason, ordering, retry_schedule,
           timeout_ms, max_in_flight, rate_limit, body, cursor_seq, failing_since, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
        [
          sub.id,
          sub.topic,
          sub.url,
          sub.filter,
          JSON.stringify(sub.headers),
          sub.secret,
          sub.active,
          sub.disabledReason,
          sub.ordering,
          JSON.stringify(sub.retrySchedule),
          sub.timeoutMs,
          sub.maxInFlight,
          sub.rateLimit,
          sub.body,
          sub.cursorSeq,
          sub.failingSince,
          sub.createdAt,
          sub.updatedAt,
        ],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new HubError("SB_SUBSCRIPTION_EXISTS", `subscription ${JSON.stringify(sub.id)} already exists`);
      throw error;
    }
  }

  async get(id: string): Promise<Subscription | undefined> {
    const { rows } = await this.ctx.query<SubscriptionRow>(`SELECT * FROM subscriptions WHERE id = $1`, [id]);
    return rows[0] && PG_ROWS.toSubscription(rows[0]);
  }

  async list(): Promise<Subscription[]> {
    return (await this.ctx.query<SubscriptionRow>(`SELECT * FROM subscriptions ORDER BY id`)).rows.map(PG_ROWS.toSubscription);
  }

  async find(topic: string, url: string): Promise<Subscription | undefined> {
    const { rows } = await this.ctx.query<SubscriptionRow>(
      `SELECT * FROM subscriptions WHERE topic = $1 AND url = $2 ORDER BY id LIMIT 1`,
      [topic, url],
    );
    return rows[0] && PG_ROWS.toSubscription(rows[0]);
  }

  async update(id: string, patch: SubscriptionPatch, now: number): Promise<Subscription | undefined> {
    const params: unknown[] = [now];
    const sets = ["updated_at = $1"];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const column = SUBSCRIPTION_PATCH_COLUMNS[key];
      if (!column) throw new HubError("SB_INTERNAL", `unknown subscription field ${key}`);
      params.push(column[1](value));
      sets.push(`${column[0]} = $${params.length}`);
    }
    params.push(id);
    const { rows } = await this.ctx.query<SubscriptionRow>(
      `UPDATE subscriptions SET ${sets.join(", ")} WHERE id = $${params.length} RETURNING *`,
      params,
    );
    return rows[0] && PG_ROWS.toSubscription(rows[0]);
  }

  async delete(id: string): Promise<boolean> {
    return this.ctx.transaction( async (client) => {
      await client.query(`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = $1)`, [id]);
      await client.query(`DELETE FROM deliveries WHERE subscription_id = $1`, [id]);
      return ((await client.query(`DELETE FROM subscriptions WHERE id = $1`, [id])).rowCount ?? 0) > 0;
    });
  }
}
