import type { AcquireLeasesRequest, HeartbeatRequest, LeasesPart, ReleaseLeasesRequest } from "../store.js";
import type { PgContext } from "./pg-util.js";
import { HEARTBEAT, LEASES_ACQUIRE, LEASES_RELEASE, NODE_REMOVE } from "./sql/leases.js";

/** Subscription leases and delivering nodes on PostgreSQL, shared by every node. */
export class PgLeases implements LeasesPart {
  constructor(private readonly ctx: PgContext) {}

  async acquire({ nodeId, subscriptionIds, ttlMs, now }: AcquireLeasesRequest): Promise<string[]> {
    if (subscriptionIds.length === 0) return [];
    const { rows } = await this.ctx.query<{ subscription_id: string }>(LEASES_ACQUIRE, [subscriptionIds, nodeId, now + ttlMs, now]);
    return rows.map((r) => r.subscription_id);
  }

  async heartbeat({ nodeId, now, ttlMs }: HeartbeatRequest): Promise<number> {
    const { rows } = await this.ctx.query<{ n: number }>(HEARTBEAT, [nodeId, now, now - ttlMs, ttlMs * 10]);
    return rows[0]!.n;
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.ctx.query(NODE_REMOVE, [nodeId]);
  }

  async release({ nodeId, subscriptionIds }: ReleaseLeasesRequest): Promise<void> {
    if (subscriptionIds.length === 0) return;
    await this.ctx.query(LEASES_RELEASE, [nodeId, subscriptionIds]);
  }
}
