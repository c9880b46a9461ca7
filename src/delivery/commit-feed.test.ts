import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../store/index.js";
import type { NewEvent, Store, StoredEvent } from "../store/store.js";
import { CommitFeed } from "./commit-feed.js";

let dir: string;
let store: Store;
let serial = 0;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "switchboard-feed-"));
  store = await openStore(`sqlite:${join(dir, "feed.db")}`);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function newEvent(): NewEvent {
  const data = { n: ++serial };
  return {
    id: `evt_feed_${String(serial).padStart(6, "0")}`,
    clientId: false,
    topic: "feed.t",
    type: null,
    source: null,
    subject: null,
    time: 1,
    key: null,
    data,
    dataJson: JSON.stringify(data),
    attributes: {},
    receivedAt: 1,
  };
}

/** Commits `n` events (as another node would) and returns them. */
async function commit(n: number): Promise<StoredEvent[]> {
  const [outcome] = await store.events.append([{ events: Array.from({ length: n }, newEvent), createTopics: true }]);
  if (!outcome?.ok) throw new Error("append failed");
  return outcome.stored;
}

/** A feed recording what it emits, and reads of the store it makes. */
function feedOf(startSeq: number, pageSize = 1000, localCommits?: () => Promise<unknown> | undefined) {
  const emitted: number[][] = [];
  let reads = 0;
  const events = Object.create(store.events, {
    readAfter: { value: (after: number, limit: number) => (reads++, store.events.readAfter(after, limit)) },
  }) as Store["events"];
  const counting = Object.create(store, { events: { value: events } }) as Store;
  const feed = new CommitFeed({
    store: counting,
    emit: (events) => emitted.push(events.map((e) => e.seq)),
    log: pino({ level: "silent" }),
    startSeq,
    pageSize,
    localCommits,
  });
  return { feed, emitted, reads: () => reads };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe("CommitFeed", () => {
  it("emits local commits at once and ignores their own announcement", async () => {
    const { feed, emitted, reads } = feedOf(0);
    const local = await commit(3);
    feed.local(local);
    feed.announced(3);
    expect(emitted).toEqual([[1, 2, 3]]);
    expect(reads()).toBe(0);
    await feed.stop();
  });

  it("waits for this node's commits in flight before reading an announcement: its own commit is not read back", async () => {
    let settle = () => {};
    let inFlight: Promise<void> | undefined = new Promise<void>((resolve) => (settle = resolve));
    const { feed, emitted, reads } = feedOf(0, 1000, () => inFlight);
    const local = await commit(3);
    feed.announced(3); // the NOTIFY came before the commit's own answer
    await new Promise((r) => setTimeout(r, 20));
    expect(reads()).toBe(0);
    feed.local(local);
    inFlight = undefined;
    settle();
    await commit(2); // another node's, announced with nothing local in flight: read at once
    feed.announced(5);
    await until(() => emitted.flat().length === 5);
    await feed.stop();
    expect(emitted).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(reads()).toBe(1);
  });

  it("reads announced commits of other nodes page by page, in order, each once", async () => {
    const { feed, emitted } = feedOf(0, 2);
    await commit(5);
    feed.announced(2);
    feed.announced(5); // arrives while catching up: coalesced
    await until(() => emitted.flat().length === 5);
    expect(emitted.flat()).toEqual([1, 2, 3, 4, 5]);
    // A local commit already read from the store (its announcement came first) is not emitted again.
    feed.local(await store.events.readAfter(3, 10));
    feed.announced(5);
    await feed.stop();
    expect(emitted.flat()).toEqual([1, 2, 3, 4, 5]);
  });

  it("emits the other nodes' earlier commits before a local commit that follows them", async () => {
    const { feed, emitted } = feedOf(0);
    await commit(2); // another node's, announcement not yet arrived
    const local = await commit(2);
    feed.local(local);
    feed.announced(2); // the late announcement
    await until(() => emitted.flat().length === 4);
    await feed.stop();
    expect(emitted).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});
