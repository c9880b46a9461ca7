import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { StoredEvent } from "../store/store.js";
import { createEventFanout } from "./event-fanout.js";

describe("createEventFanout", () => {
  it("hands each commit to streams, wakes the dispatcher, and calls every handler even after one throws", () => {
    const streams = { publish: vi.fn() };
    const dispatcher = { notify: vi.fn() };
    const log = pino({ level: "silent" });
    const logged = vi.spyOn(log, "error");
    const fanout = createEventFanout({ streams, dispatcher, log });
    const seen: string[] = [];
    fanout.onEvent(() => {
      throw new Error("handler bug");
    });
    const unsubscribe = fanout.onEvent((e) => seen.push(e.id));
    const events = [{ id: "evt_1" }, { id: "evt_2" }] as StoredEvent[];
    fanout.emit(events);
    expect(streams.publish).toHaveBeenCalledWith(events);
    expect(dispatcher.notify).toHaveBeenCalledTimes(1);
    expect(seen).toEqual(["evt_1", "evt_2"]);
    expect(logged).toHaveBeenCalledTimes(2);
    unsubscribe();
    fanout.emit([{ id: "evt_3" }] as StoredEvent[]);
    expect(seen).toEqual(["evt_1", "evt_2"]);
  });
});
