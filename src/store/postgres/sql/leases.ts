/** The PostgreSQL statements of leases (see `../pg-leases.ts`). */

/** Takes each listed lease that is free, expired or already this node's, until the new expiry. */
export const LEASES_ACQUIRE = `INSERT INTO subscription_leases (subscription_id, node_id, expires_at)
       SELECT DISTINCT u.id, $2::text, $3::bigint FROM unnest($1::text[]) AS u(id)
       ON CONFLICT (subscription_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
         WHERE subscription_leases.node_id = excluded.node_id OR subscription_leases.expires_at <= $4::bigint
       RETURNING subscription_id`;
/** Records this node as seen, forgets long-gone nodes, and counts the live ones but this one. */
export const HEARTBEAT = `WITH seen AS (
         INSERT INTO delivery_nodes (node_id, seen_at) VALUES ($1, $2)
         ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at
       ), gone AS (
         DELETE FROM delivery_nodes WHERE seen_at < $3::bigint - $4::bigint AND node_id <> $1
       )
       SELECT 1 + count(*)::int AS n FROM delivery_nodes WHERE seen_at >= $3 AND node_id <> $1`;
export const NODE_REMOVE = `DELETE FROM delivery_nodes WHERE node_id = $1`;
export const LEASES_RELEASE = `DELETE FROM subscription_leases WHERE node_id = $1 AND subscription_id = ANY($2::text[])`;
