import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Switchboard, type EventOut, type EventStream, type PublishResult } from "../../src/client/index.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startTestHub } from "../helpers/hub.js";
import { freePort } from "../helpers/process.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The next `n` events of the stream; fails after 10 s rather than hang. */
async function take(stream: EventStream, n: number): Promise<EventOut[]> {
  const out: EventOut[] = [];
  const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${out.length} of ${n} events came`)), 10_000).unref());
  while (out.length < n) {
    const next = await Promise.race([stream.next(), deadline]);
    if (next.done) throw new Error("the stream ended");
    out.push(next.value);
  }
  return out;
}

async function publishN(sb: Switchboard, topic: string, from: number, count: number): Promise<PublishResult[]> {
  return sb.publishBatch(Array.from({ length: count }, (_, i) => ({ topic, data: { n: from + i } })));
}

const ids = (items: Array<{ id: string }>) => items.map((e) => e.id);

describe("stream()", () => {
  it("delivers live events as envelopes, with the topic patterns and filter it was given", async () => {
    const hub = await startTestHub();
    cleanups.push(() => hub.close());
    const sb = new Switchboard({ url: hub.url });
    const stream = sb.stream({ topics: ["live.*", "other"], filter: "data.n != 1" });
    cleanups.push(() => stream.return());
    const first = stream.next(); // connects
    await new Promise((r) => setTimeout(r, 200));
    const published = [...(await publishN(sb, "live.a", 0, 3)), ...(await publishN(sb, "skipped", 0, 1)), ...(await publishN(sb, "other", 5, 1))];
    const got = [(await first).value as EventOut, ...(await take(stream, 2))];
    expect(ids(got)).toEqual(ids([published[0]!, published[2]!, published[4]!]));
    expect(got[0]).toMatchObject({ topic: "live.a", data: { n: 0 }, seq: published[0]!.seq });
    expect(stream.lastEventId).toBe(published[4]!.id);
  });

  it("starts after lastEventId with the stored events, then goes on live", async () => {
    const hub = await startTestHub();
    cleanups.push(() => hub.close());
    const sb = new Switchboard({ url: hub.url });
    const stored = await publishN(sb, "resume.a", 0, 5);
    const stream = sb.stream({ topics: "resume.a", lastEventId: stored[1]!.id });
    cleanups.push(() => stream.return());
    expect(ids(await take(stream, 3))).toEqual(ids(stored.slice(2)));
    const later = await publishN(sb, "resume.a", 5, 2);
    expect(ids(await take(stream, 2))).toEqual(ids(later));
  });

  it("reconnects after the connection drops and resumes with Last-Event-ID: no gap, no duplicate", async () => {
    const hub = await startTestHub();
    cleanups.push(() => hub.close());
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(hub.url).port));
    cleanups.push(() => proxy.close());
    const direct = new Switchboard({ url: hub.url });
    const reconnects: number[] = [];
    let opened = 0;
    let firstOpen!: () => void;
    const open = new Promise<void>((resolve) => (firstOpen = resolve));
    const stream = new Switchboard({ url: `http://127.0.0.1:${proxy.port}` }).stream({
      topics: ["drop.*"],
      reconnectDelayMs: 50,
      onReconnect: ({ attempt }) => reconnects.push(attempt),
      onOpen: () => {
        opened++;
        firstOpen();
      },
    });
    cleanups.push(() => stream.return());
    const before = stream.next();
    await open; // the hub has the stream: what is published from now on reaches it
    const batch1 = await publishN(direct, "drop.a", 0, 3);
    const seen = [(await before).value as EventOut, ...(await take(stream, 2))];
    // The connection goes while events keep being published; some are missed by the stream and must come on resume.
    await proxy.cut();
    const batch2 = await publishN(direct, "drop.a", 3, 4);
    await proxy.restore();
    seen.push(...(await take(stream, 4)));
    const batch3 = await publishN(direct, "drop.b", 7, 2);
    seen.push(...(await take(stream, 2)));
    expect(ids(seen)).toEqual(ids([...batch1, ...batch2, ...batch3]));
    expect(reconnects.length).toBeGreaterThanOrEqual(1);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    // Opened once, then once per reconnection that got through (a try while the proxy was cut fails).
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(opened).toBeLessThanOrEqual(reconnects.length + 1);
  });

  it("keeps going across a hub restart on the same SQLite file: no gap, no duplicate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-sdk-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const config = loadConfig({ env: {}, overrides: { port, host: "127.0.0.1", logLevel: "silent", databaseUrl: `sqlite:${join(dir, "hub.db")}` } });
    let server: RunningServer = await startServer(config, createLogger("silent"));
    cleanups.push(() => server.shutdown());
    const sb = new Switchboard({ url: server.url });
    const stream = sb.stream({ topics: ["restart.*"], reconnectDelayMs: 100 });
    cleanups.push(() => stream.return());
    const before = stream.next();
    await new Promise((r) => setTimeout(r, 200));
    const batch1 = await publishN(sb, "restart.a", 0, 3);
    const seen = [(await before).value as EventOut, ...(await take(stream, 1))];
    // Events the stream has not handed out yet when the hub goes down (the third), and events published to the new
    // process before the stream is back: all come after the restart, each once.
    await server.shutdown();
    server = await startServer(config, createLogger("silent"));
    const batch2 = await publishN(sb, "restart.a", 3, 3);
    seen.push(...(await take(stream, 4)));
    const batch3 = await publishN(sb, "restart.b", 6, 2);
    seen.push(...(await take(stream, 2)));
    expect(ids(seen)).toEqual(ids([...batch1, ...batch2, ...batch3]));
    expect(new Set(ids(seen)).size).toBe(8);
  });

  it("ends without an error when its signal aborts, and throws errors a retry cannot fix", async () => {
    const hub = await startTestHub();
    cleanups.push(() => hub.close());
    const sb = new Switchboard({ url: hub.url });
    const controller = new AbortController();
    const stream = sb.stream({ topics: "abort.x", signal: controller.signal });
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    // return() ends a read that is waiting for an event, without one coming.
    const waiting = sb.stream({ topics: "abort.y" });
    const pending = waiting.next();
    await new Promise((r) => setTimeout(r, 100));
    await waiting.return();
    expect(await pending).toEqual({ done: true, value: undefined });
    const bad = sb.stream({ topics: "bad..topic" });
    await expect(bad.next()).rejects.toMatchObject({ code: "SB_QUERY_INVALID", status: 400 });
  });

  it("reports a reset when the hub cannot resume from the id, and goes on live", async () => {
    const hub = await startTestHub();
    cleanups.push(() => hub.close());
    const sb = new Switchboard({ url: hub.url });
    const resets: unknown[] = [];
    const stream = sb.stream({ topics: "reset.x", lastEventId: "evt_unknown", onReset: (r) => resets.push(r) });
    cleanups.push(() => stream.return());
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 200));
    const [published] = await publishN(sb, "reset.x", 0, 1);
    expect(((await next).value as EventOut).id).toBe(published!.id);
    expect(resets).toEqual([expect.objectContaining({ code: "SB_STREAM_RESUME_UNKNOWN", last_event_id: "evt_unknown" })]);
  });
});
