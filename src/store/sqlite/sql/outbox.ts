/** The SQLite statements of the transactional outbox (see `../sqlite-outbox.ts` and `src/hub/outbox/`). */

/** What an application's own connection runs, inside its transaction: parameters envelope, data. */
export const OUTBOX_INSERT = `INSERT INTO outbox (envelope, data) VALUES (?, ?)`;
export const OUTBOX_PENDING = `SELECT id, envelope, data FROM outbox ORDER BY id LIMIT ?`;
export const OUTBOX_DISCARD = `DELETE FROM outbox WHERE id = ?`;
