import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse } from "../helpers/sse.js";

// Data is stored as posted: digits past 2^53, trailing zeros and escapes survive; only whitespace between tokens goes.
const DATA = '{ "big": 12345678901234567890, "price": 1.50, "e": 1e3, "s": "tab\\there \\u00e9", "list": [1, 2] }';
const EXACT = '{"big":12345678901234567890,"price":1.50,"e":1e3,"s":"tab\\there \\u00e9","list":[1,2]}';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.close());

describe("event data exactly as posted", () => {
  it.each([
    ["raw data", "/api/events?topic=exact.raw", DATA],
    ["an envelope", "/api/events", `{"topic": "exact.envelope", "data": ${DATA}}`],
    ["a batch item", "/api/events", `[{"topic": "exact.batch", "payload": ${DATA}}, {"topic": "exact.batch", "data": 1}]`],
    ["the topic route", "/api/topics/exact.route/events", DATA],
  ])("keeps %s's data text through SSE, search and get", async (_label, path, body) => {
    const topic = /exact\.[a-z]+/.exec(path + body)![0];
    const stream = await openLiveSse(hub.url, `/events?topic=${topic}`);
    try {
      const reply = await postJson(`${hub.url}${path}`, body);
      expect(reply.status, reply.text).toBe(201);
      const id = Array.isArray(reply.body) ? reply.body[0].id : reply.body.id;

      const [frame] = await stream.waitForEvents(1);
      expect(frame!.data).toBe(EXACT);

      const one = await request(`${hub.url}/api/events/${id}`);
      expect(one.text).toContain(`"data":${EXACT}`);
      const page = await request(`${hub.url}/api/events?topic=${topic}&limit=1`);
      expect(page.text).toContain(`"data":${EXACT}`);
    } finally {
      stream.close();
      await stream.closed;
    }
  });

  it("keeps CloudEvents data text in structured and binary mode", async () => {
    const structured = await postJson(
      `${hub.url}/api/events?topic=exact.ce`,
      `{"specversion":"1.0","id":"exact-ce-1","source":"/t","type":"t","data": ${DATA}}`,
      { "content-type": "application/cloudevents+json" },
    );
    expect(structured.status, structured.text).toBe(201);
    const binary = await postJson(`${hub.url}/api/events?topic=exact.ce`, DATA, {
      "ce-specversion": "1.0",
      "ce-id": "exact-ce-2",
      "ce-source": "/t",
      "ce-type": "t",
    });
    expect(binary.status, binary.text).toBe(201);
    for (const id of ["exact-ce-1", "exact-ce-2"]) {
      expect((await request(`${hub.url}/api/events/${id}`)).text).toContain(`"data":${EXACT}`);
    }
  });
});
