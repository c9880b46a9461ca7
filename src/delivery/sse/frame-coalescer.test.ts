import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type FrameChunk, FrameCoalescer } from "./frame-coalescer.js";

// The rule alone, on a fake clock: which commits are written at once, which are held, and when held ones go.

interface Holder {
  name: string;
  queued: FrameChunk[] | undefined;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(holdMs = 20, busyEvents = 8) {
  const writes: string[] = [];
  const coalescer = new FrameCoalescer<Holder>({ holdMs, busyEvents }, (stream, chunk) => writes.push(`${stream.name}:${chunk.text}`));
  const a: Holder = { name: "a", queued: undefined };
  const b: Holder = { name: "b", queued: undefined };
  /** One commit of `events` events to both streams, as StreamHub.publish does it. */
  const commit = (events: number, text: string) => {
    const chunk = { text, frames: events };
    if (coalescer.writesAtOnce(events)) {
      writes.push(`a:${text}`, `b:${text}`);
      coalescer.wrote();
    } else {
      coalescer.hold(a, chunk);
      coalescer.hold(b, chunk);
      coalescer.flushSoon();
    }
  };
  return { writes, commit, coalescer };
}

describe("FrameCoalescer", () => {
  it("never holds commits smaller than busyEvents, however close together", () => {
    const { writes, commit } = setup();
    for (let i = 0; i < 5; i++) {
      commit(7, `${i}`);
      vi.advanceTimersByTime(1);
    }
    expect(writes).toEqual(["0", "1", "2", "3", "4"].flatMap((t) => [`a:${t}`, `b:${t}`]));
  });

  it("writes a busy commit at once when the last write is holdMs old", () => {
    const { writes, commit } = setup();
    commit(8, "x");
    expect(writes).toEqual(["a:x", "b:x"]);
    vi.advanceTimersByTime(20);
    commit(50, "y");
    expect(writes).toEqual(["a:x", "b:x", "a:y", "b:y"]);
  });

  it("holds commits, small ones too, within holdMs of a busy one and of the last write; then writes them joined", () => {
    const { writes, commit } = setup();
    commit(50, "1"); // nothing written before: at once
    vi.advanceTimersByTime(5);
    commit(60, "2");
    vi.advanceTimersByTime(5);
    commit(2, "3"); // small, but 5 ms after a busy commit
    expect(writes).toEqual(["a:1", "b:1"]);
    vi.advanceTimersByTime(9);
    expect(writes).toHaveLength(2);
    vi.advanceTimersByTime(1); // 20 ms after the first write
    expect(writes).toEqual(["a:1", "b:1", "a:23", "b:23"]);
  });

  it("writes a small commit at once, with what is held, once no busy commit is within holdMs", () => {
    const { writes, commit, coalescer } = setup(20, 8);
    commit(50, "1");
    vi.advanceTimersByTime(2);
    commit(50, "2"); // held until 20 ms after the first write
    vi.advanceTimersByTime(20);
    expect(writes).toEqual(["a:1", "b:1", "a:2", "b:2"]);
    vi.advanceTimersByTime(3); // 23 ms after the last busy commit, 3 after the last write
    commit(1, "3");
    expect(writes.slice(4)).toEqual(["a:3", "b:3"]);
    coalescer.flush(); // nothing left
    expect(writes).toHaveLength(6);
  });

  it("flush writes what is held at once and cancels the timer", () => {
    const { writes, commit, coalescer } = setup();
    commit(50, "1");
    commit(50, "2");
    coalescer.flush();
    expect(writes).toEqual(["a:1", "b:1", "a:2", "b:2"]);
    vi.advanceTimersByTime(100);
    expect(writes).toHaveLength(4);
  });
});
