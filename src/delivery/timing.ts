/**
 * A subscription lease lasts this long unless renewed: a node that dies stops renewing, and another node takes its
 * subscriptions over within this plus {@link LEASE_RENEW_MS}.
 */
export const LEASE_TTL_MS = 10_000;
/** Leases are renewed (and free or expired ones claimed) this often. */
export const LEASE_RENEW_MS = 2_000;

/** How often a delivering node looks for overdue retries of any subscription (see `DispatcherOptions.sweepRetries`). */
export const RETRY_SWEEP_MS = 1_000;
/** A due retry is left to the node holding its subscription for this long before any free node takes it. */
export const RETRY_TAKEOVER_AFTER_MS = 2_000;
/**
 * A lease not renewed for this long (two renewals missed) marks its holder as gone for retries: any free node takes
 * them over, long before the lease itself expires.
 */
export const LEASE_STALE_AFTER_MS = 2 * LEASE_RENEW_MS;
/**
 * A retry claim lasts the subscription's timeout plus this: the attempt is recorded a few milliseconds after it ends
 * (group commit). A node that dies mid-attempt leaves its claims to expire after as long.
 */
export const CLAIM_MARGIN_MS = 5_000;
/** After a claim (or loading a worker) failed for want of the database, it is tried again this much later. */
export const CLAIM_RETRY_MS = 1_000;
