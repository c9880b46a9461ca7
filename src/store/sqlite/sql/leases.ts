/** The SQLite statements of subscription leases and delivering nodes (see `../sqlite-leases.ts`). */

export const LEASE_ACQUIRE = `INSERT INTO subscription_leases (subscription_id, node_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (subscription_id) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at
           WHERE subscription_leases.node_id = excluded.node_id OR subscription_leases.expires_at <= ?`;
export const LEASE_RELEASE = `DELETE FROM subscription_leases WHERE node_id = ? AND subscription_id = ?`;
export const NODE_SEEN = `INSERT INTO delivery_nodes (node_id, seen_at) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at`;
export const NODES_FORGET = `DELETE FROM delivery_nodes WHERE seen_at < ? AND node_id <> ?`;
export const NODES_COUNT = `SELECT count(*) AS n FROM delivery_nodes WHERE seen_at >= ? AND node_id <> ?`;
export const NODE_REMOVE = `DELETE FROM delivery_nodes WHERE node_id = ?`;
