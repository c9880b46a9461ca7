import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

let hub: TestHub;
let api: string;

beforeAll(async () => {
  hub = await startTestHub();
  api = `${hub.url}/api`;
});
afterAll(() => hub.close());

/** The stored event, as GET /api/events/{id} shows it. */
async function stored(id: string) {
  const reply = await request(`${api}/events/${encodeURIComponent(id)}`);
  expect(reply.status, `GET /api/events/${id}: ${reply.text}`).toBe(200);
  return reply.body;
}

/** A reply to one publish: exactly {id, seq, topic}. */
function expectResult(body: unknown, topic: string) {
  expect(Object.keys(body as object).sort()).toEqual(["id", "seq", "topic"]);
  const r = body as { id: string; seq: number; topic: string };
  expect(r.topic).toBe(topic);
  expect(typeof r.id).toBe("string");
  expect(Number.isInteger(r.seq) && r.seq > 0).toBe(true);
  return r;
}

describe("POST /api/events", () => {
  it("stores an envelope with every field and answers 201 {id, seq, topic} after commit", async () => {
    const envelope = {
      topic: "pub.envelope",
      type: "order.created",
      id: "order-1001",
      key: "customer-7",
      source: "/shop",
      subject: "orders/1001",
      time: "2025-01-02T03:04:05.678Z",
      data: { order_id: 1001, total: 12.5, items: ["a", "b"] },
      attributes: { region: "eu", priority: "high" },
    };
    const reply = await postJson(`${api}/events`, envelope);
    expect(reply.status).toBe(201);
    const result = expectResult(reply.body, "pub.envelope");
    expect(result.id).toBe("order-1001");

    const event = await stored("order-1001");
    expect(event).toMatchObject({
      id: "order-1001",
      seq: result.seq,
      topic: "pub.envelope",
      type: "order.created",
      key: "customer-7",
      source: "/shop",
      subject: "orders/1001",
      time: "2025-01-02T03:04:05.678Z",
      data: envelope.data,
      attributes: { region: "eu", priority: "high" },
    });
  });

  it("accepts payload in place of data", async () => {
    const reply = await postJson(`${api}/events`, { topic: "pub.payload", payload: { n: 1 } });
    expect(reply.status).toBe(201);
    expect((await stored(expectResult(reply.body, "pub.payload").id)).data).toEqual({ n: 1 });
  });

  it("stores any other JSON object as the data itself, on ?topic=", async () => {
    const text = '{"msg":"data","timestamp":"2025-06-01T12:00:00Z"}';
    const reply = await postJson(`${api}/events?topic=pub.raw`, text);
    expect(reply.status).toBe(201);
    const { id } = expectResult(reply.body, "pub.raw");
    const event = await stored(id);
    expect(event.data).toEqual({ msg: "data", timestamp: "2025-06-01T12:00:00Z" });
    expect(event.type).toBeNull();
    expect(id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('stores raw data without ?topic= on the "default" topic', async () => {
    const data = { user_id: 123, action: "login", metadata: { page: "/home" } };
    const reply = await postJson(`${api}/events`, data);
    expect(reply.status).toBe(201);
    const { id } = expectResult(reply.body, "default");
    const event = await stored(id);
    expect(event.topic).toBe("default");
    expect(event.data).toEqual(data);
  });

  it("refuses an envelope naming another topic than ?topic=", async () => {
    const reply = await postJson(`${api}/events?topic=pub.query-topic`, { topic: "pub.body-topic", data: 1 });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_EVENT_INVALID");
    expect(await listAllEvents(hub.url, { topic: "pub.body-topic" })).toEqual([]);
    expect(await listAllEvents(hub.url, { topic: "pub.query-topic" })).toEqual([]);
  });

  it("stores scalars of raw data too", async () => {
    for (const value of [42, "hello", true, null]) {
      const reply = await postJson(`${api}/events?topic=pub.scalars`, JSON.stringify(value));
      expect(reply.status, reply.text).toBe(201);
      expect((await stored(reply.body.id)).data).toEqual(value);
    }
  });

  it("stores a batch array in order and answers with an array of results", async () => {
    const batch = [
      { topic: "pub.batch", data: { n: 1 } },
      { n: 2 }, // raw data in a batch: goes to ?topic=
      { topic: "pub.batch", type: "t", payload: { n: 3 } },
    ];
    const reply = await postJson(`${api}/events?topic=pub.batch`, batch);
    expect(reply.status).toBe(201);
    expect(Array.isArray(reply.body)).toBe(true);
    expect(reply.body).toHaveLength(3);
    const results = reply.body.map((r: unknown) => expectResult(r, "pub.batch"));
    expect(results[1].seq).toBe(results[0].seq + 1);
    expect(results[2].seq).toBe(results[1].seq + 1);
    const events = await listAllEvents(hub.url, { topic: "pub.batch" });
    expect(events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(events.map((e) => e.id)).toEqual(results.map((r: { id: string }) => r.id));
  });

  it("stores nothing of a batch with one bad item", async () => {
    const batch = [
      { topic: "pub.batch-bad", data: { n: 1 } },
      { topic: "pub.batch-bad", data: { n: 2 }, type: 7 },
      { topic: "pub.batch-bad", data: { n: 3 } },
    ];
    const reply = await postJson(`${api}/events`, batch);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_EVENT_INVALID");
    expect(reply.body.details).toContain("[1]");
    expect(await listAllEvents(hub.url, { topic: "pub.batch-bad" })).toEqual([]);
    expect((await request(`${api}/topics/pub.batch-bad`)).status).toBe(404);
  });

  it("stores nothing of a batch whose one item fails the topic schema", async () => {
    const created = await postJson(`${api}/topics`, {
      name: "pub.batch-schema",
      schema: { type: "object", required: ["n"], properties: { n: { type: "integer" } } },
    });
    expect(created.status).toBe(201);
    const reply = await postJson(`${api}/events?topic=pub.batch-schema`, [{ n: 1 }, { n: "two" }, { n: 3 }]);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_EVENT_SCHEMA_MISMATCH");
    expect(await listAllEvents(hub.url, { topic: "pub.batch-schema" })).toEqual([]);
    expect((await request(`${api}/topics/pub.batch-schema`)).body.event_count).toBe(0);
  });
});

describe("CloudEvents", () => {
  it("stores a structured-mode event (application/cloudevents+json)", async () => {
    const ce = {
      specversion: "1.0",
      id: "ce-structured-1",
      source: "urn:test:source",
      type: "com.example.created",
      subject: "thing/1",
      time: "2025-03-04T05:06:07Z",
      datacontenttype: "application/json",
      topic: "pub.ce",
      partitionkey: "k-1",
      region: "eu",
      data: { thing: 1 },
    };
    const reply = await postJson(`${api}/events`, ce, { "content-type": "application/cloudevents+json; charset=utf-8" });
    expect(reply.status, reply.text).toBe(201);
    expect(expectResult(reply.body, "pub.ce").id).toBe("ce-structured-1");
    expect(await stored("ce-structured-1")).toMatchObject({
      topic: "pub.ce",
      type: "com.example.created",
      source: "urn:test:source",
      subject: "thing/1",
      time: "2025-03-04T05:06:07.000Z",
      key: "k-1",
      data: { thing: 1 },
      attributes: { region: "eu", datacontenttype: "application/json" },
    });
  });

  it("stores a batch (application/cloudevents-batch+json) all or nothing", async () => {
    const ce = (id: string, extra: object = {}) => ({ specversion: "1.0", id, source: "/s", type: "t", data: { id }, ...extra });
    const good = await postJson(`${api}/events?topic=pub.ce-batch`, [ce("ceb-1"), ce("ceb-2")], {
      "content-type": "application/cloudevents-batch+json",
    });
    expect(good.status, good.text).toBe(201);
    expect(good.body.map((r: { id: string }) => r.id)).toEqual(["ceb-1", "ceb-2"]);

    const bad = await postJson(`${api}/events?topic=pub.ce-batch`, [ce("ceb-3"), ce("ceb-4", { specversion: "0.3" })], {
      "content-type": "application/cloudevents-batch+json",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("SB_EVENT_INVALID");
    expect((await listAllEvents(hub.url, { topic: "pub.ce-batch" })).map((e) => e.id)).toEqual(["ceb-1", "ceb-2"]);
  });

  it("stores a binary-mode event (ce-* headers, body is the data)", async () => {
    const reply = await postJson(
      `${api}/events?topic=pub.ce-binary`,
      { reading: 21.5 },
      {
        "ce-specversion": "1.0",
        "ce-id": "ce-binary-1",
        "ce-source": "/sensors/1",
        "ce-type": "com.example.reading",
        "ce-subject": "room-4",
        "ce-time": "2025-03-04T05:06:07Z",
        "ce-building": "north",
      },
    );
    expect(reply.status, reply.text).toBe(201);
    expect(expectResult(reply.body, "pub.ce-binary").id).toBe("ce-binary-1");
    expect(await stored("ce-binary-1")).toMatchObject({
      topic: "pub.ce-binary",
      type: "com.example.reading",
      source: "/sensors/1",
      subject: "room-4",
      time: "2025-03-04T05:06:07.000Z",
      data: { reading: 21.5 },
      attributes: { building: "north" },
    });
  });

  it("refuses a binary-mode event without ce-type", async () => {
    const reply = await postJson(`${api}/events?topic=pub.ce-binary-bad`, { a: 1 }, { "ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s" });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_EVENT_INVALID");
    expect((await request(`${api}/events/x`)).status).toBe(404);
  });
});

describe("POST /api/topics/{topic}/events", () => {
  it("stores the body as the data, even when it looks like an envelope", async () => {
    const body = { topic: "somewhere.else", data: { nested: true }, type: "not-a-type" };
    const reply = await postJson(`${api}/topics/pub.scoped/events`, body);
    expect(reply.status, reply.text).toBe(201);
    const { id } = expectResult(reply.body, "pub.scoped");
    const event = await stored(id);
    expect(event.topic).toBe("pub.scoped");
    expect(event.type).toBeNull();
    expect(event.data).toEqual(body);
  });

  it("stores an array body as a batch of data", async () => {
    const reply = await postJson(`${api}/topics/pub.scoped-batch/events`, [{ a: 1 }, { a: 2 }]);
    expect(reply.status).toBe(201);
    expect(reply.body).toHaveLength(2);
    expect((await listAllEvents(hub.url, { topic: "pub.scoped-batch" })).map((e) => e.data)).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe("POST /api/messages (Postoffice)", () => {
  it("stores {topic, payload, attributes}", async () => {
    const reply = await postJson(`${api}/messages`, { topic: "pub.postoffice", payload: { to: "a@b.c" }, attributes: { hop: "1" } });
    expect(reply.status, reply.text).toBe(201);
    const { id } = expectResult(reply.body, "pub.postoffice");
    expect(await stored(id)).toMatchObject({ topic: "pub.postoffice", data: { to: "a@b.c" }, attributes: { hop: "1" } });
  });

  it("refuses a body that is not a message and stores nothing", async () => {
    const reply = await postJson(`${api}/messages`, { topic: "pub.postoffice-bad", body: { to: "a@b.c" } });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_EVENT_INVALID");
    expect(await listAllEvents(hub.url, { topic: "pub.postoffice-bad" })).toEqual([]);
  });
});

describe("idempotency", () => {
  it("answers a repeated client-given id with the first result and stores nothing new", async () => {
    const first = await postJson(`${api}/events`, { topic: "pub.idem-id", id: "pay-77", data: { amount: 5 } });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await postJson(`${api}/events`, { topic: "pub.idem-id", id: "pay-77", data: { amount: 5 } });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    const events = await listAllEvents(hub.url, { topic: "pub.idem-id" });
    expect(events.map((e) => e.id)).toEqual(["pay-77"]);
    expect((await request(`${api}/topics/pub.idem-id`)).body.event_count).toBe(1);
  });

  it("answers a repeated Idempotency-Key with the first result and stores nothing new", async () => {
    const headers = { "idempotency-key": "key-abc-1" };
    const first = await postJson(`${api}/events?topic=pub.idem-key`, { n: 1 }, headers);
    expect(first.status).toBe(201);
    const again = await postJson(`${api}/events?topic=pub.idem-key`, { n: 1 }, headers);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);

    const batchHeaders = { "idempotency-key": "key-abc-batch" };
    const batch1 = await postJson(`${api}/events?topic=pub.idem-key`, [{ n: 2 }, { n: 3 }], batchHeaders);
    const batch2 = await postJson(`${api}/events?topic=pub.idem-key`, [{ n: 2 }, { n: 3 }], batchHeaders);
    expect(batch2.status).toBe(201);
    expect(batch2.headers.get("idempotent-replayed")).toBe("true");
    expect(batch2.body).toEqual(batch1.body);

    expect((await listAllEvents(hub.url, { topic: "pub.idem-key" })).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("stores a new event when the Idempotency-Key differs", async () => {
    const a = await postJson(`${api}/events?topic=pub.idem-other`, { n: 1 }, { "idempotency-key": "k-one" });
    const b = await postJson(`${api}/events?topic=pub.idem-other`, { n: 1 }, { "idempotency-key": "k-two" });
    expect(b.status).toBe(201);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect(b.body.id).not.toBe(a.body.id);
    expect(await listAllEvents(hub.url, { topic: "pub.idem-other" })).toHaveLength(2);
  });

  it("does not remember an Idempotency-Key whose request was refused", async () => {
    const headers = { "idempotency-key": "key-after-refusal" };
    const refused = await postJson(`${api}/events`, { topic: "pub.idem-refused", type: 1, data: {} }, headers);
    expect(refused.status).toBe(400);
    const accepted = await postJson(`${api}/events`, { topic: "pub.idem-refused", data: { ok: true } }, headers);
    expect(accepted.status).toBe(201);
    expect(accepted.headers.get("idempotent-replayed")).toBeNull();
    expect((await listAllEvents(hub.url, { topic: "pub.idem-refused" })).map((e) => e.data)).toEqual([{ ok: true }]);
  });

  it("stores a repeated id once when both copies arrive at the same time", async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => postJson(`${api}/events`, { topic: "pub.idem-race", id: "race-1", data: { n: 1 } })));
    for (const r of replies) expect(r.status).toBe(201);
    expect(new Set(replies.map((r) => r.body.seq)).size).toBe(1);
    expect(await listAllEvents(hub.url, { topic: "pub.idem-race" })).toHaveLength(1);
  });
});
