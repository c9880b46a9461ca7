import type { Logger } from "pino";
import type { DeliveryStore } from "./delivery-store.js";

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  store: DeliveryStore;
  log: Logger;
  now: () => number;
  /** This node's id in subscription leases. */
  nodeId: string;
  /** How long a lease lasts unless renewed (ms). */
  ttlMs: number;
  /** How often leases are renewed and free ones claimed (ms). */
  renewMs: number;
  /** A subscription was newly held, lost, or is to be handed over: its worker starts, stops or hands over. */
  onChange: (subscriptionId: string) => void;
  /**
   * Subscriptions outside the share: claimed whenever free and never handed over. For in-process handlers, which only
   * the nodes registering them can run: counted in a share over all delivering nodes, they could be left to none.
   */
  unshared?: (subscriptionId: string) => boolean;
}

/**
 * The subscription leases of one node: only the node holding a subscription's lease delivers it. Claims this node's
 * share of the active subscriptions, renews them, hands over the excess and gives up all of them when it cannot renew
 * in time.
 */
export class LeaseKeeper {
  private readonly options: LeaseKeeperOptions;
  /** Subscriptions whose lease this node holds (it runs workers for those that are active, and only those). */
  private readonly held = new Set<string>();
  /** Subscriptions beyond this node's share: their workers stop, then their leases are released for another node. */
  private readonly handingOver = new Set<string>();
  /**
   * The lease operation under way ({@link exclusive}): one at a time. A new subscription's {@link acquire} inside a
   * renewal's claim of free leases took a lease the claim then gave back as surplus, its worker running on without it
   * while another node took it and read the same events (pg-webhook-nodes: a page or two delivered twice).
   */
  private operation: Promise<unknown> = Promise.resolve();
  /** When the last renewal of every lease started: held leases are valid until this plus the TTL. */
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;

  constructor(options: LeaseKeeperOptions) {
    this.options = options;
  }

  /** Claims this node's share of the active subscriptions (no callbacks: the caller starts their workers). */
  async claimInitial(activeIds: string[]): Promise<void> {
    const at = this.options.now();
    await this.exclusive(async () => {
      const { renewed } = await this.claimShare(activeIds, at);
      this.renewedAt = at;
      for (const id of renewed) this.held.add(id);
    });
  }

  /** Renews the leases every `renewMs` from now on, one renewal at a time. */
  startRenewing(listActive: () => Promise<string[]>): void {
    this.timer = setInterval(() => {
      this.renewing ??= this.renew(listActive).finally(() => (this.renewing = undefined));
    }, this.options.renewMs);
    this.timer.unref();
  }

  /** Whether this node holds the lease of subscription `id`. */
  holds(id: string): boolean {
    return this.held.has(id);
  }

  /** Whether `id` was to be handed over (then its lease is released now and it is no longer this node's). */
  async handOverIfDue(id: string): Promise<boolean> {
    return this.exclusive(async () => {
      if (!this.handingOver.delete(id)) return false;
      await this.options.store.leases.release({ nodeId: this.options.nodeId, subscriptionIds: [id] });
      return true;
    });
  }

  /** Claims (or renews) the lease of one subscription, as for a new one; whether this node holds it now. */
  async acquire(id: string): Promise<boolean> {
    const { store, nodeId, ttlMs, now } = this.options;
    return this.exclusive(async () => {
      const held = (await store.leases.acquire({ nodeId, subscriptionIds: [id], ttlMs, now: now() })).length > 0;
      if (held) this.held.add(id);
      else this.held.delete(id);
      return held;
    });
  }

  /** Gives up the lease of one subscription, if held (deleted, paused or disabled, or the dispatcher stopped). */
  async release(id: string): Promise<void> {
    if (this.held.delete(id)) await this.exclusive(() => this.options.store.leases.release({ nodeId: this.options.nodeId, subscriptionIds: [id] }));
  }

  /** Stops renewing (the leases stay held until {@link releaseAll}). */
  halt(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /**
   * After the workers stopped: releases every lease and the node's heartbeat, so another node takes the
   * subscriptions over at once; `keepLeases` (tests) leaves them to expire instead, as a node that died would.
   */
  async releaseAll(keepLeases = false): Promise<void> {
    const { store, nodeId, log } = this.options;
    await this.renewing;
    const held = [...this.held, ...this.handingOver];
    this.held.clear();
    this.handingOver.clear();
    if (keepLeases) return;
    await Promise.all([store.leases.removeNode(nodeId), store.leases.release({ nodeId, subscriptionIds: held })]).catch((error: unknown) =>
      log.error({ err: error, nodeId }, "releasing subscription leases failed"),
    );
  }

  /**
   * Renews the leases this node holds and claims free or expired ones up to its share: the active subscriptions
   * divided by the delivering nodes seen within a lease's lifetime (rounded up). Nodes claiming at once take free
   * leases in random order; one holding more than its share (it started first, or a node joined) hands the excess
   * over, so subscriptions spread over the delivering nodes within a few renewals.
   */
  private async claimShare(allIds: string[], at: number): Promise<{ renewed: Set<string>; excess: string[] }> {
    const { store, nodeId, ttlMs, unshared } = this.options;
    const nodes = await store.leases.heartbeat({ nodeId, now: at, ttlMs });
    const own = unshared ? allIds.filter((id) => unshared(id)) : [];
    const activeIds = unshared ? allIds.filter((id) => !unshared(id)) : allIds;
    const share = Math.ceil(activeIds.length / nodes);
    // Leases being handed over are renewed too until released: their workers may take a while to stop (attempts in
    // flight), and another node taking one over meanwhile would send those attempts again.
    const renewing = activeIds.filter((id) => this.held.has(id) || this.handingOver.has(id));
    const renewed = new Set((await store.leases.acquire({ nodeId, subscriptionIds: renewing, ttlMs, now: at })).filter((id) => !this.handingOver.has(id)));
    const unsharedHeld = own.length > 0 ? await store.leases.acquire({ nodeId, subscriptionIds: own, ttlMs, now: at }) : [];
    const room = share - renewed.size;
    if (room > 0) {
      const candidates = shuffled(activeIds.filter((id) => !this.held.has(id) && !this.handingOver.has(id)));
      const got = await store.leases.acquire({ nodeId, subscriptionIds: candidates, ttlMs, now: at });
      // acquireLeases takes every free lease in the list: what exceeds the share goes back at once.
      if (got.length > room) await store.leases.release({ nodeId, subscriptionIds: got.slice(room) });
      for (const id of got.slice(0, room)) renewed.add(id);
    }
    const excess = renewed.size > share ? [...renewed].slice(share) : [];
    for (const id of unsharedHeld) renewed.add(id);
    return { renewed, excess };
  }

  /**
   * Renews the held leases and claims free or expired ones (see {@link claimShare}): a newly held subscription gets
   * a worker (which loads the open deliveries its previous node left, as on a restart); one lost to another node (a
   * renewal came too late) has its worker stopped; one beyond this node's share is handed over once its worker has
   * stopped. The timer of {@link startRenewing} calls this; tests call it directly.
   */
  async renew(listActive: () => Promise<string[]>): Promise<void> {
    const { store, log, nodeId, now } = this.options;
    try {
      const ids = await listActive();
      if (this.stopped) return;
      const at = now();
      await this.exclusive(async () => {
        const { renewed: acquired, excess } = await this.claimShare(ids, at);
        this.renewedAt = at;
        if (this.stopped) {
          // The dispatcher's stop released what it knew of; these were renewed meanwhile.
          await store.leases.release({ nodeId, subscriptionIds: [...acquired] });
          return;
        }
        this.apply(ids, acquired, excess);
      });
    } catch (error) {
      log.error({ err: error, nodeId }, "renewing subscription leases failed");
      // Past the TTL another node may take the subscriptions over: stop delivering them a renewal before that.
      if (now() >= this.renewedAt + this.options.ttlMs - this.options.renewMs) {
        for (const id of [...this.held]) {
          this.held.delete(id);
          this.options.onChange(id);
        }
      }
    }
  }

  /**
   * Runs `operation` once the one under way has settled; the next waits for this one. What an operation learns from
   * the store is taken into `held` inside it, so that no other operation runs between the store's answer and that.
   */
  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.operation.then(operation, operation);
    this.operation = result.catch(() => undefined);
    return result;
  }

  /** Takes in the result of a renewal: what is newly held, lost, or to hand over. */
  private apply(ids: string[], acquired: Set<string>, excess: string[]): void {
    const { log, nodeId, onChange } = this.options;
    for (const id of excess) {
      acquired.delete(id);
      if (this.held.delete(id)) {
        this.handingOver.add(id);
        onChange(id);
      }
    }
    for (const id of ids) {
      if (acquired.has(id) && !this.held.has(id)) {
        this.held.add(id);
        onChange(id);
      } else if (!acquired.has(id) && this.held.has(id)) {
        log.warn({ subscriptionId: id, nodeId }, "subscription lease lost to another node; stopping its worker");
        this.held.delete(id);
        onChange(id);
      }
    }
  }
}

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
