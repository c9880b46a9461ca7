/** The SQLite statements of API keys (see `../sqlite-keys.ts`). */

export const API_KEY_INSERT = `INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;
export const API_KEY_BY_HASH = `SELECT * FROM api_keys WHERE hash = ?`;
export const API_KEY_BY_ID = `SELECT * FROM api_keys WHERE id = ?`;
export const API_KEY_LIST = `SELECT * FROM api_keys ORDER BY id`;
export const API_KEY_REVOKE = `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`;
export const API_KEY_COUNT_ACTIVE = `SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`;
/** Changes whenever another connection has committed to the database file (this connection's own commits aside). */
export const DATA_VERSION = `PRAGMA data_version`;
