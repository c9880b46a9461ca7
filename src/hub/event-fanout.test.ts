import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { NewEvent, StoredEvent } from "../store/store.js";
import { createEventFanout } from "./event-fanout.js";

describe("createEventFanout", () => {
  it("hands each commit to streams, wakes the dispatcher, and calls every handler even after one throws", () => {
    const streams = { publish: vi.fn(), publishLive: vi.fn() };
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
    expect(dispatcher.notify).toHaveBeenCalledWith(events);
    expect(seen).toEqual(["evt_1", "evt_2"]);
    expect(logged).toHaveBeenCalledTimes(2);
    unsubscribe();
    fanout.emit([{ id: "evt_3" }] as StoredEvent[]);
    expect(seen).toEqual(["evt_1", "evt_2"]);
  });

  it("hands live-only events to streams and onLiveEvent handlers only, never to the dispatcher or onEvent", () => {
    const streams = { publish: vi.fn(), publishLive: vi.fn() };
    const dispatcher = { notify: vi.fn() };
    const fanout = createEventFanout({ streams, dispatcher, log: pino({ level: "silent" }) });
    const stored: string[] = [];
    const live: string[] = [];
    fanout.onEvent((e) => stored.push(e.id));
    const stop = fanout.onLiveEvent((e) => live.push(e.id));
    const events = [{ id: "evt_L1" }, { id: "evt_L2" }] as NewEvent[];
    fanout.emitLive(events);
    expect(streams.publishLive).toHaveBeenCalledWith(events);
    expect(streams.publish).not.toHaveBeenCalled();
    expect(dispatcher.notify).not.toHaveBeenCalled();
    expect(live).toEqual(["evt_L1", "evt_L2"]);
    expect(stored).toEqual([]);
    stop();
    fanout.emitLive([{ id: "evt_L3" }] as NewEvent[]);
    expect(live).toEqual(["evt_L1", "evt_L2"]);
  });
});
