import { describe, expect, it } from "vitest";
import { InFlightSlots, type SlotWaiter } from "./in-flight-slots.js";

describe("InFlightSlots", () => {
  it("wakes the waiter of highest priority first, equal ones in the order they began to wait", () => {
    const slots = new InFlightSlots(1);
    const woken: string[] = [];
    const waiter = (name: string, priority?: number): SlotWaiter => ({ priority, wake: () => woken.push(name) });
    expect(slots.take(waiter("first"))).toBe(true);
    for (const w of [waiter("low-a", 1), waiter("none"), waiter("high-a", 50), waiter("low-b", 1), waiter("high-b", 50)]) expect(slots.take(w)).toBe(false);
    for (let i = 0; i < 5; i++) slots.release();
    expect(woken).toEqual(["high-a", "high-b", "low-a", "low-b", "none"]);
  });
});
