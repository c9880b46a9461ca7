/** The PostgreSQL statements of keys (see `../pg-keys.ts`). */

export const API_KEY_INSERT = `INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`;
export const API_KEY_BY_HASH = `SELECT * FROM api_keys WHERE hash = $1`;
export const API_KEY_LIST = `SELECT * FROM api_keys ORDER BY id`;
export const API_KEY_REVOKE = `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING *`;
export const API_KEY_COUNT_ACTIVE = `SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`;
