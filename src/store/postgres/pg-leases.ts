import type { AcquireLeasesRequest, HeartbeatRequest, LeasesPart, ReleaseLeasesRequest } from "../store.js";
import type { PgContext } from "./pg-util.js";

/** Subscription leases and delivering nodes on PostgreSQL, shared by every node. */
export class PgLeases implements LeasesPart {
  constructor(private readonly ctx: PgContext) {}

  async acquire({ nodeId, subscriptionIds, ttlMs, now }: AcquireLeasesRequest): Promise<string[]> {
    if (subscriptionIds.length === 0) return [];
    const { rows } = await this.ctx.query<{ subscription_id: string }>(
      `INSERT INTO subscription_leases (subscription_id, node_id, expires_at)
       SELECT DISTINCT u.id, $2::text, $3::bigint FROM unnest($1::text[]) AS u(id)
       ON CONFLICT (subscription_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
         WHERE subscription_leases.node_id = excluded.node_id OR subscription_leases.expires_at <= $4::bigint
       RETURNING subscription_id`,
      [subscriptionIds, nodeId, now + ttlMs, now],
    );
    return rows.map((r) => r.subscription_id);
  }

  async heartbeat({ nodeId, now, ttlMs }: HeartbeatRequest): Promise<number> {
    const { rows } = await this.ctx.query<{ n: number }>(
      `WITH seen AS (
         INSERT INTO delivery_nodes (node_id, seen_at) VALUES ($1, $2)
         ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at
       ), gone AS (
         DELETE FROM delivery_nodes WHERE seen_at < $3::bigint - $4::bigint AND node_id <> $1
       )
       SELECT 1 + count(*)::int AS n FROM delivery_nodes WHERE seen_at >= $3 AND node_id <> $1`,
      [nodeId, now, now - ttlMs, ttlMs * 10],
    );
    return rows[0]!.n;
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.ctx.query(`DELETE FROM delivery_nodes WHERE node_id = $1`, [nodeId]);
  }

  async release({ nodeId, subscriptionIds }: ReleaseLeasesRequest): Promise<void> {
    if (subscriptionIds.length === 0) return;
    await this.ctx.query(`DELETE FROM subscription_leases WHERE node_id = $1 AND subscription_id = ANY($2::text[])`, [nodeId, subscriptionIds]);
  }
}
