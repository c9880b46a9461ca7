import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { ClusterStore, CommitListener, StoredEvent } from "../store/store.js";
import { startClusterSync, subscriptionRefresher } from "./cluster-sync.js";

const log = pino({ level: "silent" });

/** A shared store that hands the test its commit listener; `lastSeq` is what events.lastSeq() does. */
function fakeClusterStore(lastSeq: () => Promise<number>) {
  let listener: CommitListener | undefined;
  const unwatch = vi.fn(async () => {});
  const readAfter = vi.fn(async () => [] as StoredEvent[]);
  const store = {
    mode: "cluster",
    events: { lastSeq, readAfter },
    cluster: {
      watchCommits: async (l: CommitListener) => {
        listener = l;
        return unwatch;
      },
    },
  } as unknown as ClusterStore;
  return { store, unwatch, readAfter, listener: () => listener! };
}

const fakeDispatcher = () => ({ refresh: vi.fn(async (_: string) => {}), refreshAll: vi.fn(async () => {}) });

describe("subscriptionRefresher", () => {
  it("keeps changes announced before the dispatcher started and re-reads them, in order, once it has", () => {
    const dispatcher = fakeDispatcher();
    const refresher = subscriptionRefresher(dispatcher, log);
    refresher.changed("sub_1");
    refresher.changed(undefined);
    expect(dispatcher.refresh).not.toHaveBeenCalled();
    expect(dispatcher.refreshAll).not.toHaveBeenCalled();
    refresher.start();
    expect(dispatcher.refresh).toHaveBeenCalledWith("sub_1");
    expect(dispatcher.refreshAll).toHaveBeenCalledTimes(1);
    refresher.changed("sub_2");
    expect(dispatcher.refresh).toHaveBeenLastCalledWith("sub_2");
    refresher.start();
    expect(dispatcher.refresh).toHaveBeenCalledTimes(2);
  });

  it("ignores changes on a node without a dispatcher (api role)", () => {
    const refresher = subscriptionRefresher(undefined, log);
    expect(() => {
      refresher.changed("sub_1");
      refresher.start();
    }).not.toThrow();
  });
});

describe("startClusterSync", () => {
  it("replays commits announced while it started, and routes subscription changes to the dispatcher after start", async () => {
    let announceEarly = () => {};
    const fake = fakeClusterStore(async () => {
      announceEarly();
      return 5;
    });
    announceEarly = () => fake.listener().onCommit(7);
    const dispatcher = fakeDispatcher();
    const emit = vi.fn();
    const sync = await startClusterSync({ store: fake.store, emit, dispatcher, log });
    // The commit announced before the feed existed is read from the store after seq 5.
    await vi.waitFor(() => expect(fake.readAfter).toHaveBeenCalledWith(5, expect.any(Number)));
    fake.listener().onSubscriptionChange!("sub_1");
    expect(dispatcher.refresh).not.toHaveBeenCalled();
    sync.dispatcherStarted();
    expect(dispatcher.refresh).toHaveBeenCalledWith("sub_1");
    await sync.stop();
    expect(fake.unwatch).toHaveBeenCalledTimes(1);
  });

  it("stops listening again when reading the last seq fails, and throws", async () => {
    const fake = fakeClusterStore(async () => {
      throw new Error("database gone");
    });
    await expect(startClusterSync({ store: fake.store, emit: vi.fn(), log })).rejects.toThrow("database gone");
    expect(fake.unwatch).toHaveBeenCalledTimes(1);
  });

  it("emits this node's commits that follow the last seq at once", async () => {
    const fake = fakeClusterStore(async () => 5);
    const emit = vi.fn();
    const sync = await startClusterSync({ store: fake.store, emit, log });
    const events = [{ seq: 6 } as StoredEvent];
    sync.local(events);
    expect(emit).toHaveBeenCalledWith(events);
    await sync.stop();
  });
});
