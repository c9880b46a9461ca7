import { HubError } from "../../errors.js";
import { SUBSCRIPTION_PATCH_COLUMNS } from "../rows.js";
import type { Subscription, SubscriptionPatch, SubscriptionsPart } from "../store.js";
import { isUniqueViolation, PG_ROWS, type PgContext } from "./pg-util.js";
import {
  SUBSCRIPTION_ATTEMPTS_DELETE,
  SUBSCRIPTION_DELETE,
  SUBSCRIPTION_DELIVERIES_DELETE,
  SUBSCRIPTION_FIND,
  SUBSCRIPTION_GET,
  SUBSCRIPTION_INSERT,
  SUBSCRIPTION_LIST,
} from "./sql/subscriptions.js";

/** PostgreSQL subscriptions. */
export class PgSubscriptions implements SubscriptionsPart {
  constructor(private readonly ctx: PgContext) {}

  async create(sub: Subscription): Promise<void> {
    try {
      await this.ctx.query(SUBSCRIPTION_INSERT, [
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
        sub.priority,
        sub.filterSyntax ?? "cel",
        sub.filterSource ?? null,
      ]);
    } catch (error) {
      if (isUniqueViolation(error)) throw new HubError("SB_SUBSCRIPTION_EXISTS", `subscription ${JSON.stringify(sub.id)} already exists`);
      throw error;
    }
  }

  async get(id: string): Promise<Subscription | undefined> {
    return this.ctx.one(SUBSCRIPTION_GET, [id], PG_ROWS.toSubscription);
  }

  async list(): Promise<Subscription[]> {
    return this.ctx.all(SUBSCRIPTION_LIST, [], PG_ROWS.toSubscription);
  }

  async find(topic: string, url: string): Promise<Subscription | undefined> {
    return this.ctx.one(SUBSCRIPTION_FIND, [topic, url], PG_ROWS.toSubscription);
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
    return this.ctx.one(`UPDATE subscriptions SET ${sets.join(", ")} WHERE id = $${params.length} RETURNING *`, params, PG_ROWS.toSubscription);
  }

  async delete(id: string): Promise<boolean> {
    return this.ctx.transaction(async (client) => {
      await client.query(SUBSCRIPTION_ATTEMPTS_DELETE, [id]);
      await client.query(SUBSCRIPTION_DELIVERIES_DELETE, [id]);
      return ((await client.query(SUBSCRIPTION_DELETE, [id])).rowCount ?? 0) > 0;
    });
  }
}
