/** Someone waiting for a slot: woken when one is released. */
export interface SlotWaiter {
  wake(): void;
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

  /** Gives a slot back and wakes the longest waiter. */
  release(): void {
    this.taken--;
    const next = this.waiters.values().next();
    if (!next.done) {
      this.waiters.delete(next.value);
      next.value.wake();
    }
  }
}
