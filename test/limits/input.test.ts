import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse } from "../helpers/sse.js";

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ maxJsonDepth: 8 });
});
afterAll(() => hub.close());

const nested = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

describe("JSON depth", () => {
  it("accepts a body exactly maxJsonDepth deep", async () => {
    const reply = await postJson(`${hub.url}/api/topics/limits.depth/events`, nested(8));
    expect(reply.status, reply.text).toBe(201);
  });

  it.each([9, 1000, 100_000])("refuses a body %i deep → 400 SB_REQUEST_TOO_DEEP, quickly", async (depth) => {
    const started = Date.now();
    const reply = await postJson(`${hub.url}/api/topics/limits.depth/events`, nested(depth));
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "SB_REQUEST_TOO_DEEP", error: "request nested too deeply" });
    expect(reply.body.details).toMatch(/more than 8 deep/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("counts objects and arrays alike, on every JSON route, and not brackets in strings", async () => {
    const deepObject = `${'{"a":'.repeat(9)}1${"}".repeat(9)}`;
    expect((await postJson(`${hub.url}/api/subscriptions`, deepObject)).body.code).toBe("SB_REQUEST_TOO_DEEP");
    expect((await postJson(`${hub.url}/api/topics`, deepObject)).body.code).toBe("SB_REQUEST_TOO_DEEP");
    const reply = await postJson(`${hub.url}/api/topics/limits.depth/events`, { s: "[[[[[[[[[[[[{{{{{{{{{{{{", t: '\\"[[[[[[[[[[' });
    expect(reply.status, reply.text).toBe(201);
  });
});

describe("encoding", () => {
  it("a leading BOM is dropped, not stored as part of the data", async () => {
    const reply = await postJson(`${hub.url}/api/topics/limits.bom/events`, '\ufeff{"a":1}');
    expect(reply.status, reply.text).toBe(201);
    const events = await listAllEvents(hub.url, { topic: "limits.bom" });
    expect(events.map((e) => e.data)).toEqual([{ a: 1 }]);
  });
});

describe("URL size", () => {
  it("a URL over 8 KiB → 414 SB_REQUEST_URL_TOO_LONG naming the limit, on known routes and unknown ones", async () => {
    for (const path of [`/api/events?topic=${"a".repeat(9000)}`, `/api/no-such-route?x=${"a".repeat(9000)}`, `/api/health?x=${"a".repeat(9000)}`]) {
      const reply = await request(`${hub.url}${path}`);
      expect(reply.status, path.slice(0, 30)).toBe(414);
      expect(reply.body).toEqual({
        error: "URL too long",
        details: `the URL has ${path.length} characters; at most 8192 are allowed`,
        code: "SB_REQUEST_URL_TOO_LONG",
      });
    }
  });

  it("a path parameter over 256 characters → 414 without echoing it; a bad %-escape → 400, with the catalog body", async () => {
    const reply = await request(`${hub.url}/api/topics/${"a".repeat(300)}`);
    expect(reply.status).toBe(414);
    expect(reply.body).toEqual({ error: "URL too long", details: "a path parameter is over 256 characters", code: "SB_REQUEST_URL_TOO_LONG" });
    const bad = await request(`${hub.url}/api/topics/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("SB_REQUEST_INVALID");
  });
});

describe("SSE frames cannot be injected", () => {
  it.each([
    ["an id with LF", { id: "evt_1\ndata: injected" }],
    ["an id with CR", { id: "evt_1\revent: x" }],
    ["an id with CRLF", { id: "x\r\n\r\nid: y" }],
    ["a type with LF", { type: "a\nid: forged" }],
    ["a type with CR", { type: "a\rdata: x" }],
  ])("%s is refused at ingest → 400, and nothing is stored", async (_, fields) => {
    const before = (await listAllEvents(hub.url, { topic: "limits.inject" })).length;
    const reply = await postJson(`${hub.url}/api/events`, { topic: "limits.inject", data: { ok: 1 }, ...fields });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_EVENT_INVALID");
    const cloud = await postJson(
      `${hub.url}/api/events`,
      { specversion: "1.0", id: "ok-id", source: "/s", type: "t", data: 1, ...fields },
      { "content-type": "application/cloudevents+json" },
    );
    expect(cloud.status).toBe(400);
    expect((await listAllEvents(hub.url, { topic: "limits.inject" })).length).toBe(before);
  });

  it("a Last-Event-ID with CR or LF (in the query) → 400 before the stream starts", async () => {
    for (const bad of ["a%0Adata:%20x", "a%0D%0Aevent:%20x", "a%0D"]) {
      const reply = await request(`${hub.url}/events?last_event_id=${bad}`, { headers: { accept: "text/event-stream" } });
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe("SB_QUERY_INVALID");
    }
  });

  it("data with line breaks (in strings, or pretty-printed) stays one data line", async () => {
    const conn = await openLiveSse(hub.url, "/events?topic=limits.frames");
    try {
      const text = '{\n  "s": "line1\\nid: forged\\n\\ndata: x",\r\n  "n": [1,\n 2]\n}';
      const reply = await postJson(`${hub.url}/api/topics/limits.frames/events`, text);
      expect(reply.status, reply.text).toBe(201);
      const [frame] = await conn.waitForEvents(1);
      expect(frame!.raw).toBe(`id: ${reply.body.id}\ndata: {"s":"line1\\nid: forged\\n\\ndata: x","n":[1,2]}`);
    } finally {
      conn.close();
      await conn.closed;
    }
  });
});
