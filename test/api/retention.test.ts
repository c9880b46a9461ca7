import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openSse, type SseConnection } from "../helpers/sse.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;

let hub: TestHub;
const open: SseConnection[] = [];

beforeAll(async () => {
  hub = await startTestHub({ eventRetentionMs: HOUR });
});
afterEach(async () => {
  for (const conn of open.splice(0)) {
    conn.close();
    await conn.closed;
  }
});
afterAll(() => hub.close());

async function createTopic(body: object): Promise<void> {
  const reply = await postJson(`${hub.url}/api/topics`, body);
  expect(reply.status, reply.text).toBe(201);
}

async function publish(topic: string, items: object[]): Promise<string[]> {
  const reply = await postJson(`${hub.url}/api/events?topic=${topic}`, items);
  expect(reply.status, reply.text).toBe(201);
  return reply.body.map((r: { id: string }) => r.id);
}

async function eventIds(topic: string): Promise<string[]> {
  return (await listAllEvents(hub.url, { topic })).map((e) => e.id);
}

async function eventCount(topic: string): Promise<number> {
  const reply = await request(`${hub.url}/api/topics/${topic}`);
  expect(reply.status, reply.text).toBe(200);
  return reply.body.event_count;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Publishes `old` events, then (a few ms later) `young` ones; returns their ids, a time before all of them and a time
 * between the two groups.
 */
async function publishOldAndYoung(topic: string, old: number, young: number) {
  const start = Date.now();
  const oldIds = await publish(
    topic,
    Array.from({ length: old }, (_, n) => ({ n })),
  );
  await sleep(5);
  const between = Date.now();
  await sleep(5);
  const youngIds = await publish(
    topic,
    Array.from({ length: young }, (_, n) => ({ n: old + n })),
  );
  return { oldIds, youngIds, start, between };
}

describe("event retention", () => {
  it("shows retention_ms on topics, takes it on create and update, and refuses a bad value", async () => {
    await createTopic({ name: "ret.fields", retention_ms: MINUTE });
    expect((await request(`${hub.url}/api/topics/ret.fields`)).body.retention_ms).toBe(MINUTE);
    const patched = await request(`${hub.url}/api/topics/ret.fields`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ retention_ms: null }),
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.retention_ms).toBeNull();

    for (const bad of [-1, 1.5, "60000", true]) {
      const reply = await postJson(`${hub.url}/api/topics`, { name: "ret.bad", retention_ms: bad });
      expect(reply.status, reply.text).toBe(400);
      expect(reply.body.code).toBe("SB_TOPIC_INVALID");
    }
  });

  it("removes events past the topic's retention, keeps newer ones and updates event_count", async () => {
    await createTopic({ name: "ret.short", retention_ms: MINUTE });
    const { oldIds, youngIds, start, between } = await publishOldAndYoung("ret.short", 7, 3);
    expect(await eventCount("ret.short")).toBe(10);

    // Before the old events expire: nothing goes.
    expect((await hub.server.hub.runRetention(start + MINUTE)).topics["ret.short"]).toBeUndefined();
    expect(await eventIds("ret.short")).toEqual([...oldIds, ...youngIds]);

    const result = await hub.server.hub.runRetention(between + MINUTE);
    expect(result.topics["ret.short"]).toBe(7);
    expect(await eventIds("ret.short")).toEqual(youngIds);
    expect(await eventCount("ret.short")).toBe(3);
    for (const id of oldIds) expect((await request(`${hub.url}/api/events/${id}`)).status).toBe(404);
    for (const id of youngIds) expect((await request(`${hub.url}/api/events/${id}`)).status).toBe(200);
  });

  it("uses eventRetentionMs for topics without their own, and keeps retention_ms 0 forever", async () => {
    await createTopic({ name: "ret.default" });
    await createTopic({ name: "ret.forever", retention_ms: 0 });
    const byDefault = await publishOldAndYoung("ret.default", 2, 1);
    const forever = await publishOldAndYoung("ret.forever", 2, 1);

    const early = await hub.server.hub.runRetention(forever.between + MINUTE);
    expect(early.topics["ret.default"]).toBeUndefined();
    expect(early.topics["ret.forever"]).toBeUndefined();

    const late = await hub.server.hub.runRetention(byDefault.between + HOUR);
    expect(late.topics["ret.default"]).toBe(2);
    expect(late.topics["ret.forever"]).toBeUndefined();
    expect(await eventIds("ret.default")).toEqual(byDefault.youngIds);
    expect(await eventIds("ret.forever")).toEqual([...forever.oldIds, ...forever.youngIds]);
    expect(await eventCount("ret.forever")).toBe(3);
  });

  it("removes more events than one batch, and a stream resuming from a removed id gets switchboard.reset", async () => {
    await createTopic({ name: "ret.many", retention_ms: MINUTE });
    const oldIds: string[] = [];
    for (let b = 0; b < 6; b++)
      oldIds.push(
        ...(await publish(
          "ret.many",
          Array.from({ length: 1000 }, (_, n) => ({ n: b * 1000 + n })),
        )),
      );
    await sleep(5);
    const between = Date.now();
    await sleep(5);
    const youngIds = await publish("ret.many", [{ n: "young" }]);

    expect((await hub.server.hub.runRetention(between + MINUTE)).topics["ret.many"]).toBe(6000);
    expect(await eventIds("ret.many")).toEqual(youngIds);
    expect(await eventCount("ret.many")).toBe(1);

    const removed = oldIds[4321]!;
    const conn = openSse(hub.url, "/events?topic=ret.many", { headers: { "last-event-id": removed } });
    open.push(conn);
    const [reset] = await conn.waitForEvents(1);
    expect(reset!.event).toBe("switchboard.reset");
    expect(JSON.parse(reset!.data!)).toMatchObject({ code: "SB_STREAM_RESUME_UNKNOWN", last_event_id: removed });
    // The young event is not replayed; the reset names it as the oldest of the stream's topics.
    expect(conn.events().map((f) => f.id)).not.toContain(youngIds[0]!);
    expect(JSON.parse(reset!.data!).oldest_id).toBe(youngIds[0]!);
  });
});
