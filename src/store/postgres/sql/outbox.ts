/** The PostgreSQL statements of the transactional outbox (see `../pg-outbox.ts` and `src/hub/outbox/`). */

/**
 * What an application's own client runs, inside its transaction: parameters envelope, data. One statement, one round
 * trip; the table's statement trigger NOTIFYs `switchboard_outbox`, delivered at the commit.
 */
export const OUTBOX_INSERT = `INSERT INTO outbox (envelope, data) VALUES ($1, $2)`;
// Ordered by the bigint column, not by the text alias (which would put "10" before "9").
export const OUTBOX_PENDING = `SELECT id::text AS id, envelope, data FROM outbox ORDER BY outbox.id LIMIT $1`;
export const OUTBOX_DISCARD = `DELETE FROM outbox WHERE id = $1`;
/** The outbox row an append relays, deleted in the same transaction (no row: another relay took it). */
export const OUTBOX_DELETE = `DELETE FROM outbox WHERE id = $1`;
/** The outbox rows of a whole plain batch, deleted in one statement (fewer rows than ids: another relay took one). */
export const OUTBOX_DELETE_MANY = `DELETE FROM outbox WHERE id = ANY($1::bigint[])`;
