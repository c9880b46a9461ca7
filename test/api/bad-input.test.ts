import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAllEvents, postJson, request, startTestHub, type JsonReply, type TestHub } from "../helpers/hub.js";

let hub: TestHub;
let api: string;

beforeAll(async () => {
  hub = await startTestHub({ bodyLimitBytes: 1024 });
  api = `${hub.url}/api`;
});
afterAll(() => hub.close());

/** Asserts the error body `{error, details, code}` and the status, and returns the body. */
function expectError(reply: JsonReply, status: number, code: string) {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
  expect(Object.keys(reply.body).sort()).toEqual(["code", "details", "error"]);
  expect(reply.body.code).toBe(code);
  expect(typeof reply.body.error).toBe("string");
  expect(typeof reply.body.details).toBe("string");
  expect(reply.body.details.length).toBeGreaterThan(0);
  return reply.body as { error: string; details: string; code: string };
}

/** Runs `send` and checks that neither an event nor a topic was added. */
async function expectNothingStored(send: () => Promise<JsonReply>): Promise<JsonReply> {
  const eventsBefore = await listAllEvents(hub.url);
  const topicsBefore = (await request(`${api}/topics`)).body.data.map((t: { name: string }) => t.name);
  const reply = await send();
  expect(await listAllEvents(hub.url)).toEqual(eventsBefore);
  expect((await request(`${api}/topics`)).body.data.map((t: { name: string }) => t.name)).toEqual(topicsBefore);
  return reply;
}

describe("bad input to POST /api/events stores nothing", () => {
  it("malformed JSON → 400", async () => {
    const reply = await expectNothingStored(() => postJson(`${api}/events?topic=bad.json`, '{"topic": "bad.json", "data": '));
    expect(expectError(reply, 400, "SB_REQUEST_INVALID_JSON").error).toBe("invalid request");
  });

  it("an empty JSON body → 400", async () => {
    const reply = await expectNothingStored(() => postJson(`${api}/events?topic=bad.empty`, ""));
    expectError(reply, 400, "SB_REQUEST_INVALID_JSON");
  });

  it.each([
    ["type is a number", { topic: "bad.types", type: 5, data: 1 }, "type must be a string"],
    ["id is an object", { topic: "bad.types", id: { a: 1 }, data: 1 }, "id must be a string"],
    ["key is empty", { topic: "bad.types", key: "", data: 1 }, "key must not be empty"],
    ["attributes is a string", { topic: "bad.types", attributes: "x", data: 1 }, "attributes must be an object"],
    ["attribute value is an object", { topic: "bad.types", attributes: { a: { b: 1 } }, data: 1 }, "attributes.a must be a string"],
    ["time is not a time", { topic: "bad.types", time: "yesterday", data: 1 }, "is not a recognised time"],
    ["data and payload both", { topic: "bad.types", data: 1, payload: 2 }, "either data or payload"],
  ])("wrong types: %s → 400", async (_, body, details) => {
    const reply = await expectNothingStored(() => postJson(`${api}/events`, body));
    expect(expectError(reply, 400, "SB_EVENT_INVALID").details).toContain(details);
  });

  it.each([
    ["a space", { topic: "bad topic", data: 1 }],
    ["an empty segment", { topic: "bad..topic", data: 1 }],
    ["a leading dot", { topic: ".bad", data: 1 }],
    ["a slash", { topic: "bad/topic", data: 1 }],
    ["not a string", { topic: 12, data: 1 }],
    ["201 characters", { topic: "t".repeat(201), data: 1 }],
  ])("a topic name with %s → 400", async (_, body) => {
    const reply = await expectNothingStored(() => postJson(`${api}/events`, body));
    expect(expectError(reply, 400, "SB_TOPIC_INVALID").error).toBe("invalid topic");
  });

  it("a bad topic in ?topic= or in the path → 400", async () => {
    expectError(await expectNothingStored(() => postJson(`${api}/events?topic=no%20spaces`, { a: 1 })), 400, "SB_TOPIC_INVALID");
    expectError(await expectNothingStored(() => postJson(`${api}/topics/no%20spaces/events`, { a: 1 })), 400, "SB_TOPIC_INVALID");
  });

  it("a body over the limit → 413", async () => {
    const body = JSON.stringify({ topic: "bad.large", data: "x".repeat(2000) });
    const reply = await expectNothingStored(() => postJson(`${api}/events`, body));
    expect(expectError(reply, 413, "SB_REQUEST_TOO_LARGE").error).toBe("request too large");
  });

  it.each(["text/xml", "application/x-www-form-urlencoded", "text/plain"])("content type %s → 415", async (type) => {
    const reply = await expectNothingStored(() => postJson(`${api}/events?topic=bad.type`, '{"a":1}', { "content-type": type }));
    expect(expectError(reply, 415, "SB_REQUEST_UNSUPPORTED_MEDIA_TYPE").error).toBe("unsupported media type");
  });

  it("a __proto__ key → 400 (top level or nested)", async () => {
    const top = await expectNothingStored(() => postJson(`${api}/events?topic=bad.proto`, '{"__proto__": {"admin": true}, "a": 1}'));
    expectError(top, 400, "SB_REQUEST_INVALID_JSON");
    const nested = await expectNothingStored(() => postJson(`${api}/events`, '{"topic": "bad.proto", "data": {"user": {"__proto__": {"admin": true}}}}'));
    expectError(nested, 400, "SB_REQUEST_INVALID_JSON");
    const ce = await expectNothingStored(() =>
      postJson(`${api}/events`, '{"specversion":"1.0","id":"p","source":"/s","type":"t","constructor":{"prototype":{"x":1}}}', {
        "content-type": "application/cloudevents+json",
      }),
    );
    expectError(ce, 400, "SB_REQUEST_INVALID_JSON");
  });

  it("a batch over maxBatchEvents is refused whole", async () => {
    const small = await startTestHub({ maxBatchEvents: 3 });
    try {
      const reply = await postJson(`${small.url}/api/events?topic=bad.batch`, [1, 2, 3, 4]);
      expectError(reply, 413, "SB_EVENT_BATCH_TOO_LARGE");
      expect(await listAllEvents(small.url)).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it("an empty batch → 400", async () => {
    expectError(await expectNothingStored(() => postJson(`${api}/events?topic=bad.batch`, [])), 400, "SB_EVENT_INVALID");
  });

  it("a bad Idempotency-Key → 400", async () => {
    const reply = await expectNothingStored(() => postJson(`${api}/events?topic=bad.idem`, { a: 1 }, { "idempotency-key": "k".repeat(201) }));
    expectError(reply, 400, "SB_REQUEST_INVALID");
  });
});

describe("topic JSON Schema", () => {
  it("data failing the schema → 400 with the schema's errorMessage as details, and nothing stored", async () => {
    const created = await postJson(`${api}/topics`, {
      name: "schema.users",
      schema: {
        type: "object",
        required: ["user_id"],
        properties: { user_id: { type: "integer", minimum: 1 } },
        errorMessage: "user_id must be a positive integer",
      },
    });
    expect(created.status, created.text).toBe(201);

    for (const data of [{ user_id: -5 }, { user_id: "7" }, { name: "no id" }]) {
      const reply = await expectNothingStored(() => postJson(`${api}/events?topic=schema.users`, data));
      const body = expectError(reply, 400, "SB_EVENT_SCHEMA_MISMATCH");
      expect(body.details).toBe("user_id must be a positive integer");
      expect(body.error).toBe("validation failed");
    }
    // The same holds on the topic-scoped route and in an envelope.
    const scoped = await expectNothingStored(() => postJson(`${api}/topics/schema.users/events`, { user_id: 0 }));
    expect(expectError(scoped, 400, "SB_EVENT_SCHEMA_MISMATCH").details).toBe("user_id must be a positive integer");

    const ok = await postJson(`${api}/events`, { topic: "schema.users", data: { user_id: 9 } });
    expect(ok.status).toBe(201);
    expect((await listAllEvents(hub.url, { topic: "schema.users" })).map((e) => e.data)).toEqual([{ user_id: 9 }]);
  });

  it("without errorMessage, details name the field and the rule", async () => {
    const created = await postJson(`${api}/topics`, {
      name: "schema.plain",
      schema: { type: "object", required: ["amount"], properties: { amount: { type: "number" } } },
    });
    expect(created.status).toBe(201);
    const missing = await postJson(`${api}/events?topic=schema.plain`, { total: 1 });
    expect(expectError(missing, 400, "SB_EVENT_SCHEMA_MISMATCH").details).toBe("amount is required");
    const wrong = await postJson(`${api}/events?topic=schema.plain`, { amount: "1" });
    expect(expectError(wrong, 400, "SB_EVENT_SCHEMA_MISMATCH").details).toBe("amount must be number");
  });

  it("a schema set by PATCH applies to the next publish", async () => {
    expect((await postJson(`${api}/events?topic=schema.later`, { v: "text" })).status).toBe(201);
    const patched = await request(`${api}/topics/schema.later`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ schema: { type: "object", properties: { v: { type: "integer" } }, errorMessage: "v must be an integer" } }),
    });
    expect(patched.status, patched.text).toBe(200);
    const reply = await postJson(`${api}/events?topic=schema.later`, { v: "text" });
    expect(expectError(reply, 400, "SB_EVENT_SCHEMA_MISMATCH").details).toBe("v must be an integer");
  });
});

describe("auto-created topics", () => {
  it("creates an unknown topic on first publish", async () => {
    expect((await request(`${api}/topics/auto.created`)).status).toBe(404);
    expect((await postJson(`${api}/events?topic=auto.created`, { a: 1 })).status).toBe(201);
    const topic = await request(`${api}/topics/auto.created`);
    expect(topic.status).toBe(200);
    expect(topic.body.event_count).toBe(1);
  });

  it("with autoCreateTopics false, an unknown topic → 404 SB_TOPIC_NOT_FOUND and nothing stored", async () => {
    const strict = await startTestHub({ autoCreateTopics: false });
    try {
      const sapi = `${strict.url}/api`;
      const envelope = await postJson(`${sapi}/events`, { topic: "strict.unknown", data: 1 });
      expectError(envelope, 404, "SB_TOPIC_NOT_FOUND");
      expectError(await postJson(`${sapi}/topics/strict.unknown/events`, { a: 1 }), 404, "SB_TOPIC_NOT_FOUND");
      expectError(await postJson(`${sapi}/events`, { a: 1 }), 404, "SB_TOPIC_NOT_FOUND"); // "default" does not exist either
      expect(await listAllEvents(strict.url)).toEqual([]);
      expect((await request(`${sapi}/topics`)).body.data).toEqual([]);

      expect((await postJson(`${sapi}/topics`, { name: "strict.known" })).status).toBe(201);
      expect((await postJson(`${sapi}/events`, { topic: "strict.known", data: 1 })).status).toBe(201);
      // A batch naming a known and an unknown topic is refused whole.
      const mixed = await postJson(`${sapi}/events`, [
        { topic: "strict.known", data: 2 },
        { topic: "strict.unknown", data: 3 },
      ]);
      expectError(mixed, 404, "SB_TOPIC_NOT_FOUND");
      expect((await listAllEvents(strict.url)).map((e) => e.data)).toEqual([1]);
    } finally {
      await strict.close();
    }
  });
});

describe("unknown routes", () => {
  it("answer 404 with the error body", async () => {
    expectError(await request(`${api}/nowhere`), 404, "SB_ROUTE_NOT_FOUND");
  });
});
