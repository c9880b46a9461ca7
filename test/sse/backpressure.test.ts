import { afterEach, describe, expect, it } from "vitest";
import { metricValue, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse, type SseConnection } from "../helpers/sse.js";

const hubs: TestHub[] = [];
const conns: SseConnection[] = [];

afterEach(async () => {
  for (const conn of conns.splice(0)) {
    conn.close();
    await conn.closed;
  }
  for (const hub of hubs.splice(0)) await hub.close();
});

async function hubWith(overrides: Parameters<typeof startTestHub>[0]): Promise<TestHub> {
  const hub = await startTestHub(overrides);
  hubs.push(hub);
  return hub;
}

async function live(hub: TestHub, path: string): Promise<SseConnection> {
  const conn = await openLiveSse(hub.url, path);
  conns.push(conn);
  return conn;
}

async function metrics(hub: TestHub): Promise<string> {
  return (await request(`${hub.url}/metrics`)).text;
}

describe("heartbeat", () => {
  it("writes a `: heartbeat` comment on an idle stream", async () => {
    const hub = await hubWith({ sseHeartbeatMs: 200 });
    const conn = await live(hub, "/events?topic=hb.idle");
    await conn.waitForText(": heartbeat\n\n: heartbeat\n\n");
    // Only the opening block and heartbeats: no event, no other bytes.
    expect(conn.text).toMatch(/^retry: 2000\n: connected\n\n(: heartbeat\n\n)+$/);
    expect(conn.events()).toEqual([]);

    // Events and heartbeats interleave as whole blocks.
    const posted = await postJson(`${hub.url}/api/events?topic=hb.idle`, { a: 1 });
    await conn.waitForEvents(1);
    const before = conn.text.length;
    await conn.waitFor("a heartbeat after the event", () => conn.text.slice(before).includes(": heartbeat\n\n"));
    expect(conn.text).toMatch(
      new RegExp(`^retry: 2000\\n: connected\\n\\n(: heartbeat\\n\\n)+id: ${posted.body.id}\\ndata: \\{"a":1\\}\\n\\n(: heartbeat\\n\\n)+$`),
    );
  });
});

describe("a slow reader", () => {
  it("is closed past the buffer limit while other streams get everything and ingest goes on", async () => {
    const hub = await hubWith({ sseMaxBufferedBytes: 256 * 1024 });
    const slow = await live(hub, "/events?topic=slow.topic");
    const fast = await live(hub, "/events?topic=slow.topic");
    const other = await live(hub, "/events?topic=slow.other");
    slow.pause(); // reads nothing more: the kernel buffers fill, then the hub's

    const pad = "z".repeat(60_000);
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const reply = await postJson(`${hub.url}/api/events?topic=slow.topic`, { i, pad });
      expect(reply.status).toBe(201);
      ids.push(reply.body.id);
    }
    const otherEvent = await postJson(`${hub.url}/api/events?topic=slow.other`, { other: true });
    expect(otherEvent.status).toBe(201);

    // The fast reader got every event, in order.
    const frames = await fast.waitForEvents(ids.length, 20_000);
    expect(frames.map((f) => f.id)).toEqual(ids);
    expect(frames.every((f, i) => f.data === JSON.stringify({ i, pad }))).toBe(true);
    expect((await other.waitForEvents(1))[0]!.id).toBe(otherEvent.body.id);

    // The slow one was closed, and said so in the metrics.
    const text = await metrics(hub);
    expect(metricValue(text, "switchboard_streams_closed_slow_total")).toBe(1);
    expect(metricValue(text, "switchboard_stream_frames_dropped_total")).toBeGreaterThan(0);
    expect(metricValue(text, "switchboard_streams_open")).toBe(2);

    // Once it reads again it finds a prefix of the events, then the end of the connection.
    slow.socket.resume();
    await slow.waitForClose();
    const got = slow.events().map((f) => f.id);
    expect(got.length).toBeLessThan(ids.length);
    expect(got).toEqual(ids.slice(0, got.length));

    // The hub still takes events and streams them.
    const after = await postJson(`${hub.url}/api/events?topic=slow.topic`, { after: true });
    expect(after.status).toBe(201);
    expect((await fast.waitForEvents(ids.length + 1)).at(-1)!.id).toBe(after.body.id);
  });
});
