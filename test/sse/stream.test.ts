import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse, openSse, type SseConnection } from "../helpers/sse.js";

let hub: TestHub;
const open: SseConnection[] = [];

beforeAll(async () => {
  hub = await startTestHub();
});
afterEach(async () => {
  for (const conn of open.splice(0)) {
    conn.close();
    await conn.closed;
  }
});
afterAll(() => hub.close());

/** The hub's opening block: the reconnect hint and a comment. */
const OPENING = "retry: 2000\n: connected\n\n";

function track(conn: SseConnection): SseConnection {
  open.push(conn);
  return conn;
}

async function live(path: string, headers?: Record<string, string>): Promise<SseConnection> {
  return track(await openLiveSse(hub.url, path, { headers }));
}

async function publish(topic: string, dataText: string): Promise<{ id: string; seq: number }> {
  const reply = await postJson(`${hub.url}/api/events?topic=${topic}`, dataText);
  expect(reply.status, reply.text).toBe(201);
  return reply.body;
}

describe("GET /events", () => {
  it("sends headers and the retry hint at once, before any event exists", async () => {
    const conn = track(openSse(hub.url, "/events?topic=sse.quiet"));
    await conn.waitForHead();
    expect(conn.status).toBe(200);
    expect(conn.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(conn.headers["cache-control"]).toBe("no-cache, no-transform");
    expect(conn.headers["x-accel-buffering"]).toBe("no");
    await conn.waitForText("\n\n");
    expect(conn.text).toBe(OPENING);
    expect(conn.frames()).toEqual([{ retry: "2000", comments: ["connected"], raw: "retry: 2000\n: connected" }]);
  });

  it("sends each event as `id: <id>` and `data: <data exactly as posted>`", async () => {
    const conn = await live("/events?topic=sse.exact");
    const texts = [
      '{"msg":"data","timestamp":"2025-06-01T12:00:00Z"}',
      '{"user_id":123,"action":"login","metadata":{"page":"/home"}}',
      '"a string with \\"quotes\\" and unicode \\u00e9 é"',
      '{"list":[1,2.5,-3,true,null],"empty":{}}',
      "42",
    ];
    const ids: string[] = [];
    for (const text of texts) ids.push((await publish("sse.exact", text)).id);
    await conn.waitForEvents(texts.length);
    // Compact JSON comes back byte for byte, escapes included.
    const expected = OPENING + texts.map((t, i) => `id: ${ids[i]}\ndata: ${t}\n\n`).join("");
    expect(conn.text).toBe(expected);
    expect(conn.events().map((f) => f.data)).toEqual(texts);
  });

  it("keeps a multi-line string in one data line", async () => {
    const conn = await live("/events?topic=sse.lines");
    const { id } = await publish("sse.lines", JSON.stringify("line 1\nline 2\r\nline 3"));
    await conn.waitForEvents(1);
    expect(conn.text).toBe(`${OPENING}id: ${id}\ndata: "line 1\\nline 2\\r\\nline 3"\n\n`);
  });

  it("sends the whole envelope with ?envelope=true", async () => {
    const conn = await live("/events?topic=sse.envelope&envelope=true");
    const reply = await postJson(`${hub.url}/api/events`, {
      topic: "sse.envelope",
      type: "thing.done",
      key: "k1",
      source: "/src",
      subject: "s",
      time: "2025-01-01T00:00:00Z",
      data: { x: 1 },
      attributes: { a: "b" },
    });
    expect(reply.status).toBe(201);
    const [frame] = await conn.waitForEvents(1);
    expect(frame!.id).toBe(reply.body.id);
    const stored = await request(`${hub.url}/api/events/${reply.body.id}`);
    // Same fields in the same order as the API, which adds the event's (here no) deliveries at the end.
    expect(`${frame!.data!.slice(0, -1)},"deliveries":[]}`).toBe(stored.text);
    expect(JSON.parse(frame!.data!)).toEqual({
      id: reply.body.id,
      seq: reply.body.seq,
      topic: "sse.envelope",
      type: "thing.done",
      source: "/src",
      subject: "s",
      time: "2025-01-01T00:00:00.000Z",
      key: "k1",
      data: { x: 1 },
      attributes: { a: "b" },
      received_at: expect.stringMatching(/Z$/),
    });
  });

  it("selects topics by repeated names, comma lists and patterns", async () => {
    const conn = await live("/events?topic=sel.a&topic=sel.b.*,sel.deep.**");
    const topics = ["sel.a", "sel.c", "sel.b.x", "sel.b.x.y", "sel.deep.one.two", "sel.ab", "sel.b", "sel.deep.z"];
    const ids = new Map<string, string>();
    for (const t of topics) ids.set(t, (await publish(t, `{"t":"${t}"}`)).id);
    const wanted = ["sel.a", "sel.b.x", "sel.deep.one.two", "sel.deep.z"];
    const events = await conn.waitForEvents(wanted.length);
    // A last marker proves nothing else was on its way.
    const marker = await publish("sel.a", '{"t":"marker"}');
    await conn.waitForEvents(wanted.length + 1);
    expect(conn.events().map((f) => f.id)).toEqual([...wanted.map((t) => ids.get(t)), marker.id]);
    expect(events.map((f) => JSON.parse(f.data!).t)).toEqual(wanted);
  });

  it("streams every topic when none is given", async () => {
    const conn = await live("/events");
    const a = await publish("any.one", "1");
    const b = await publish("any.two", "2");
    const frames = await conn.waitForEvents(2);
    expect(frames.map((f) => f.id)).toEqual([a.id, b.id]);
  });

  it("applies a CEL filter", async () => {
    const conn = await live(`/events?topic=sse.filter&filter=${encodeURIComponent('data.amount > 100 && attributes.region == "eu"')}`);
    const send = (amount: number, region: string) => postJson(`${hub.url}/api/events`, { topic: "sse.filter", data: { amount }, attributes: { region } });
    const sent = [];
    for (const [amount, region] of [
      [50, "eu"],
      [150, "us"],
      [150, "eu"],
      [100, "eu"],
      [101.5, "eu"],
    ] as const) {
      sent.push((await send(amount, region)).body.id);
    }
    await conn.waitForEvents(2);
    const marker = (await send(1000, "eu")).body.id;
    await conn.waitForEvents(3);
    expect(conn.events().map((f) => f.id)).toEqual([sent[2], sent[4], marker]);
  });

  it.each([
    ["an invalid filter", `/events?filter=${encodeURIComponent("data.amount >")}`, "SB_FILTER_INVALID"],
    ["an invalid topic", "/events?topic=bad%20topic", "SB_QUERY_INVALID"],
    ["an invalid pattern", "/events?topic=a.**.b", "SB_QUERY_INVALID"],
    ["two filters", "/events?filter=true&filter=false", "SB_QUERY_INVALID"],
    ["a bad envelope flag", "/events?envelope=maybe", "SB_QUERY_INVALID"],
  ])("answers %s with 400 JSON before any stream starts", async (_, path, code) => {
    const conn = track(openSse(hub.url, path));
    await conn.waitForHead();
    expect(conn.status).toBe(400);
    expect(conn.headers["content-type"]).toMatch(/^application\/json/);
    await conn.waitUntilBodyEnded();
    expect(conn.text).not.toContain("retry:");
    expect(conn.json()).toEqual({ error: expect.any(String), details: expect.any(String), code });
  });
});

describe("GET /api/topics/{topic}/stream", () => {
  it("streams the one topic of the path", async () => {
    const conn = await live("/api/topics/path.topic/stream");
    await publish("path.other", "0");
    const a = await publish("path.topic", '{"n":1}');
    await conn.waitForEvents(1);
    expect(conn.text).toBe(`${OPENING}id: ${a.id}\ndata: {"n":1}\n\n`);
  });

  it("takes a filter and envelope=true", async () => {
    const conn = await live(`/api/topics/path.env/stream?envelope=true&filter=${encodeURIComponent("data.n == 2")}`);
    await publish("path.env", '{"n":1}');
    const b = await publish("path.env", '{"n":2}');
    const [frame] = await conn.waitForEvents(1);
    expect(frame!.id).toBe(b.id);
    expect(JSON.parse(frame!.data!)).toMatchObject({ id: b.id, topic: "path.env", data: { n: 2 } });
  });

  it("answers a bad topic in the path with 400", async () => {
    const conn = track(openSse(hub.url, "/api/topics/bad%20name/stream"));
    await conn.waitForHead();
    expect(conn.status).toBe(400);
    await conn.waitUntilBodyEnded();
    expect(conn.json().code).toBe("SB_QUERY_INVALID");
  });
});
