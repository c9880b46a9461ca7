import Database from "better-sqlite3";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { newEventId } from "../../ids.js";
import type { NewEvent } from "../store.js";
import { openSqliteStore, type SqliteStore } from "./sqlite-store.js";
import { startWalCheckpointer } from "./wal-checkpointer.js";

let dir: string;
const stores: SqliteStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "switchboard-wal-"));
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(backgroundCheckpoints: boolean): Promise<SqliteStore> {
  const store = openSqliteStore({ path: join(dir, "hub.db"), backgroundCheckpoints });
  stores.push(store);
  await store.migrate();
  return store;
}

/** About 1 MiB of events (data of 1 KiB each) in one request. */
function megabyte(): Array<{ events: NewEvent[]; createTopics: boolean }> {
  const now = Date.now();
  const dataJson = JSON.stringify({ text: "x".repeat(1000) });
  const events = Array.from({ length: 1000 }, () => ({
    id: newEventId(now),
    clientId: false,
    topic: "bulk",
    type: null,
    source: null,
    subject: null,
    time: now,
    key: null,
    dataJson,
    data: null,
    attributes: {},
    receivedAt: now,
  }));
  return [{ events, createTopics: true }];
}

const walBytes = () => (existsSync(join(dir, "hub.db-wal")) ? statSync(join(dir, "hub.db-wal")).size : 0);

describe("background WAL checkpoints", () => {
  it("keep the WAL to about what is written between two checkpoints, while the writer never checkpoints", { timeout: 30_000 }, async () => {
    const store = await open(true);
    expect(store.checkpointer).toBeDefined();
    // The worker's first checkpoint (it takes a moment to start), then the WAL file's size at that point.
    await store.events.append(megabyte());
    await vi.waitFor(() => expect(store.checkpointer!.stats.checkpoints).toBeGreaterThan(0), { timeout: 5_000 });
    const before = walBytes();
    // A request every 300 ms: a checkpoint (every 200 ms) comes between most of them.
    for (let i = 0; i < 12; i++) {
      await store.events.append(megabyte());
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    // Each request writes about 1.6 MB to the WAL: 19 MB in all. The writer's own checkpoints would start only at
    // 64 MiB, so without the worker the file would have grown by all of it; with it, the WAL starts over after each
    // checkpoint and the file (which keeps its largest size) grows by a few requests' worth at most.
    expect(store.checkpointer!.stats.checkpoints).toBeGreaterThan(3);
    expect(walBytes() - before).toBeLessThan(6 * 1024 * 1024);
    // Once the writes stop, the worker catches up: every page of the WAL copied into the database file.
    await vi.waitFor(
      () => {
        const { lastLog, lastCheckpointed } = store.checkpointer!.stats;
        expect(lastCheckpointed).toBe(lastLog);
      },
      { timeout: 5_000 },
    );
    expect((await store.stats()).events).toBe(13_000);
  });

  it("are off unless asked for: the writer checkpoints inline", async () => {
    const store = await open(false);
    expect(store.checkpointer).toBeUndefined();
  });

  it("stop with the store: its connection closes first, and the last close removes the WAL", async () => {
    const store = await open(true);
    await store.events.append(megabyte());
    await store.close();
    expect(walBytes()).toBe(0);
    const db = new Database(join(dir, "hub.db"), { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n).toBe(1000);
    db.close();
  });

  it("report a worker that cannot run, so that the writer takes the checkpoints back", async () => {
    const failure = await new Promise<Error>((resolve) => {
      startWalCheckpointer({ path: join(dir, "missing", "hub.db"), onFailure: resolve });
    });
    expect(failure).toBeInstanceOf(Error);
  });
});
