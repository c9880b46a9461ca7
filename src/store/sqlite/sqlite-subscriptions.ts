import type Database from "better-sqlite3";
import { HubError } from "../../errors.js";
import { SUBSCRIPTION_PATCH_COLUMNS, type SubscriptionRow } from "../rows.js";
import type { Subscription, SubscriptionPatch, SubscriptionsPart } from "../store.js";
import * as SQL from "./sql/subscriptions.js";
import { SqlitePart, SQLITE_ROWS } from "./sqlite-state.js";

/** SQLite subscriptions. */
export class SqliteSubscriptions extends SqlitePart<keyof typeof SQL> implements SubscriptionsPart {
  constructor(db: Database.Database) {
    super(db, SQL);
  }

  async create(sub: Subscription): Promise<void> {
    try {
      this.insert(sub);
    } catch (error) {
      const code = (error as { code?: string }).code;
      // The id, or a handler's name (its `function:` url, unique).
      if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new HubError("SB_SUBSCRIPTION_EXISTS", `subscription ${JSON.stringify(sub.id)} (url ${JSON.stringify(sub.url)}) already exists`);
      }
      throw error;
    }
  }

  private insert(sub: Subscription): void {
    this.s.SUBSCRIPTION_INSERT.run({
      id: sub.id,
      topic: sub.topic,
      url: sub.url,
      filter: sub.filter,
      headers: JSON.stringify(sub.headers),
      secret: sub.secret,
      active: sub.active ? 1 : 0,
      disabled_reason: sub.disabledReason,
      ordering: sub.ordering,
      retry_schedule: JSON.stringify(sub.retrySchedule),
      timeout_ms: sub.timeoutMs,
      max_in_flight: sub.maxInFlight,
      rate_limit: sub.rateLimit,
      body: sub.body,
      cursor_seq: sub.cursorSeq,
      failing_since: sub.failingSince,
      priority: sub.priority,
      created_at: sub.createdAt,
      updated_at: sub.updatedAt,
      filter_syntax: sub.filterSyntax ?? "cel",
      filter_source: sub.filterSource ?? null,
    });
  }

  async get(id: string): Promise<Subscription | undefined> {
    const row = this.s.SUBSCRIPTION_GET.get(id) as SubscriptionRow | undefined;
    return row && SQLITE_ROWS.toSubscription(row);
  }

  async list(): Promise<Subscription[]> {
    return (this.s.SUBSCRIPTION_LIST.all() as SubscriptionRow[]).map(SQLITE_ROWS.toSubscription);
  }

  async find(topic: string, url: string): Promise<Subscription | undefined> {
    const row = this.s.SUBSCRIPTION_FIND.get(topic, url) as SubscriptionRow | undefined;
    return row && SQLITE_ROWS.toSubscription(row);
  }

  async update(id: string, patch: SubscriptionPatch, now: number): Promise<Subscription | undefined> {
    const sets = ["updated_at = ?"];
    const params: unknown[] = [now];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const column = SUBSCRIPTION_PATCH_COLUMNS[key];
      if (!column) throw new HubError("SB_INTERNAL", `unknown subscription field ${key}`);
      sets.push(`${column[0]} = ?`);
      // SQLite has no booleans: `active` is 0 or 1.
      params.push(typeof value === "boolean" ? (value ? 1 : 0) : column[1](value));
    }
    params.push(id);
    const info = this.db.prepare(`UPDATE subscriptions SET ${sets.join(", ")} WHERE id = ?`).run(...params);
    return info.changes === 0 ? undefined : this.get(id);
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.s.SUBSCRIPTION_ATTEMPTS_DELETE.run(id);
      this.s.SUBSCRIPTION_DELIVERIES_DELETE.run(id);
      return this.s.SUBSCRIPTION_DELETE.run(id).changes > 0;
    })();
  }
}
