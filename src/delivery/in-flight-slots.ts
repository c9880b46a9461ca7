/** Someone waiting for a slot: woken when one is released. */
export interface SlotWaiter {
  wake(): void;
  /** Higher is woken first (a handler's `priority`); equal ones in the order they began to wait. Default 0. */
  readonly priority?: number;
}

/** The global cap on attempts in flight across subscriptions (switch's concurrency level). */
export class InFlightSlots {
  private readonly max: number;
  private taken = 0;
  private readonly waiters = new Set<SlotWaiter>();

  constructor(max: number) {
    this.max = max;
  }

  /** Attempts in flight. */
  get inFlight(): number {
    return this.taken;
  }

  /** Waiters for a slot now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Slots free now. */
  get free(): number {
    return this.max - this.taken;
  }

  /** Takes a slot, or queues `waiter` to be woken when one is released. */
  take(waiter: SlotWaiter): boolean {
    if (this.taken < this.max) {
      this.taken++;
      return true;
    }
    this.waiters.add(waiter);
    return false;
  }

  /** Takes a slot without waiting (the caller has checked {@link free}). */
  takeNow(): void {
    this.taken++;
  }

  /** Gives a slot back and wakes the waiter of highest priority that has waited longest. */
  release(): void {
    this.taken--;
    let next: SlotWaiter | undefined;
    // A scan: waiters are the subscriptions wanting a slot, a few hundred at most.
    for (const waiter of this.waiters) if (next === undefined || (waiter.priority ?? 0) > (next.priority ?? 0)) next = waiter;
    if (next !== undefined) {
      this.waiters.delete(next);
      next.wake();
    }
  }
}
