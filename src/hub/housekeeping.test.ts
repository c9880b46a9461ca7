import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RETENTION_INTERVAL_MS } from "../store/retention.js";
import type { RollUpRequest, Store, Topic } from "../store/store.js";
import { ATTEMPT_PRUNE_BATCH, ATTEMPT_PRUNE_INTERVAL_MS, ROLLUP_INTERVAL_MS, startHousekeeping, type Housekeeping } from "./housekeeping.js";

const log = pino({ level: "silent" });
const ROLLUPS_KEPT = { rollupMinuteRetentionMs: 0, rollupHourRetentionMs: 0, rollupDayRetentionMs: 0 };
const topic = (name: string, retentionMs: number | null): Topic => ({
  name,
  description: null,
  schema: null,
  originHost: null,
  createdAt: 0,
  updatedAt: 0,
  eventCount: 0,
  lastEventAt: null,
  retentionMs,
  storage: "log",
});

/** A store that records what housekeeping asks of it; `pruned` is what each pruneAttempts call returns, in turn. */
function fakeStore(pruned: number[] = []) {
  const deleteBefore = vi.fn(async (_: { topic: string; receivedBefore: number; limit: number }) => 0);
  const pruneAttempts = vi.fn(async (_: { before: number; limit: number }) => pruned.shift() ?? 0);
  const rollUp = vi.fn(async (_: RollUpRequest) => {});
  const store = { events: { deleteBefore }, deliveries: { pruneAttempts }, rollups: { rollUp } } as unknown as Store;
  return { store, deleteBefore, pruneAttempts, rollUp };
}

/** A topic list whose answers the test releases one by one. */
function gatedTopics(topics: Topic[]) {
  const gates: Array<() => void> = [];
  const list = vi.fn(() => new Promise<Topic[]>((resolve) => gates.push(() => resolve(topics))));
  return { topics: { list }, list, release: () => gates.shift()!() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

let housekeeping: Housekeeping | undefined;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
});
afterEach(async () => {
  await housekeeping?.stop();
  housekeeping = undefined;
  vi.useRealTimers();
});

describe("event retention", () => {
  it("does not overlap runs: a tick while a run is under way starts none", async () => {
    const { store, deleteBefore } = fakeStore();
    const gated = gatedTopics([topic("t", 1_000)]);
    housekeeping = startHousekeeping({
      store,
      topics: gated.topics,
      config: { ...ROLLUPS_KEPT, attemptRetentionMs: 1, eventRetentionMs: 0 },
      log,
      now: () => 10_000,
    });
    expect(gated.list).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(RETENTION_INTERVAL_MS * 2);
    await settle();
    expect(gated.list).toHaveBeenCalledTimes(1);
    gated.release();
    await settle();
    expect(deleteBefore).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(RETENTION_INTERVAL_MS);
    expect(gated.list).toHaveBeenCalledTimes(2);
    gated.release();
  });

  it("runs on the injected clock, and runRetention waits for the timer's run before running as of its own time", async () => {
    const { store, deleteBefore } = fakeStore();
    const gated = gatedTopics([topic("t", 1_000)]);
    housekeeping = startHousekeeping({
      store,
      topics: gated.topics,
      config: { ...ROLLUPS_KEPT, attemptRetentionMs: 1, eventRetentionMs: 0 },
      log,
      now: () => 10_000,
    });
    const asked = housekeeping.runRetention(50_000);
    await settle();
    expect(gated.list).toHaveBeenCalledTimes(1);
    gated.release();
    await settle();
    gated.release();
    await expect(asked).resolves.toEqual({ removed: 0, topics: {} });
    expect(deleteBefore.mock.calls.map(([request]) => request.receivedBefore)).toEqual([9_000, 49_000]);
  });

  it("stop clears the timer and waits for the run under way", async () => {
    const { store } = fakeStore();
    const gated = gatedTopics([]);
    const started = startHousekeeping({
      store,
      topics: gated.topics,
      config: { ...ROLLUPS_KEPT, attemptRetentionMs: 1, eventRetentionMs: 0 },
      log,
      now: () => 0,
    });
    let stopped = false;
    const stopping = started.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    gated.release();
    await stopping;
    vi.advanceTimersByTime(RETENTION_INTERVAL_MS * 3);
    expect(gated.list).toHaveBeenCalledTimes(1);
  });
});

describe("attempt pruning", () => {
  it("prunes before now minus the retention, again while whole batches come back, and again every interval", async () => {
    const { store, pruneAttempts } = fakeStore([ATTEMPT_PRUNE_BATCH, 3]);
    let clock = 5_000_000;
    housekeeping = startHousekeeping({
      store,
      topics: { list: async () => [] },
      config: { ...ROLLUPS_KEPT, attemptRetentionMs: 1_000_000, eventRetentionMs: 0 },
      log,
      now: () => clock,
    });
    await settle();
    await settle();
    expect(pruneAttempts.mock.calls.map(([request]) => request)).toEqual([
      { before: 4_000_000, limit: ATTEMPT_PRUNE_BATCH },
      { before: 4_000_000, limit: ATTEMPT_PRUNE_BATCH },
    ]);
    clock = 9_000_000;
    vi.advanceTimersByTime(ATTEMPT_PRUNE_INTERVAL_MS);
    await settle();
    expect(pruneAttempts).toHaveBeenLastCalledWith({ before: 8_000_000, limit: ATTEMPT_PRUNE_BATCH });
    expect(pruneAttempts).toHaveBeenCalledTimes(3);
  });
});

describe("rollups", () => {
  it("rolls up at once and every interval with the configured retentions, never two runs at a time", async () => {
    const { store, rollUp } = fakeStore();
    let release: () => void = () => {};
    rollUp.mockImplementationOnce(() => new Promise<void>((resolve) => (release = resolve)));
    let clock = 1_000;
    const config = { attemptRetentionMs: 1, eventRetentionMs: 0, rollupMinuteRetentionMs: 10, rollupHourRetentionMs: 20, rollupDayRetentionMs: 30 };
    housekeeping = startHousekeeping({ store, topics: { list: async () => [] }, config, log, now: () => clock });
    expect(rollUp).toHaveBeenCalledWith({ now: 1_000, minuteRetentionMs: 10, hourRetentionMs: 20, dayRetentionMs: 30 });
    vi.advanceTimersByTime(ROLLUP_INTERVAL_MS);
    expect(rollUp).toHaveBeenCalledTimes(1);
    release();
    await settle();
    clock = 2_000;
    vi.advanceTimersByTime(ROLLUP_INTERVAL_MS);
    expect(rollUp).toHaveBeenCalledTimes(2);
    expect(rollUp).toHaveBeenLastCalledWith({ now: 2_000, minuteRetentionMs: 10, hourRetentionMs: 20, dayRetentionMs: 30 });
  });
});
