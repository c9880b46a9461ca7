import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

let hub: TestHub;
let api: string;

beforeAll(async () => {
  hub = await startTestHub();
  api = `${hub.url}/api`;
});
afterAll(() => hub.close());

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function send(method: string, path: string, body?: unknown) {
  return request(`${api}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("topics", () => {
  it("POST creates a topic (201) with every field", async () => {
    const schema = { type: "object", properties: { id: { type: "integer" } } };
    const reply = await postJson(`${api}/topics`, {
      name: "crud.orders",
      description: "Orders placed in the shop",
      schema,
      origin_host: "shop.internal",
    });
    expect(reply.status, reply.text).toBe(201);
    expect(reply.body).toEqual({
      name: "crud.orders",
      description: "Orders placed in the shop",
      schema,
      origin_host: "shop.internal",
      created_at: expect.stringMatching(RFC3339_MS),
      updated_at: expect.stringMatching(RFC3339_MS),
      event_count: 0,
      last_event_at: null,
      retention_ms: null,
      storage: "log",
    });
  });

  it("POST of an existing name → 409 SB_TOPIC_EXISTS, leaving the topic as it was", async () => {
    expect((await postJson(`${api}/topics`, { name: "crud.dup", description: "first" })).status).toBe(201);
    const reply = await postJson(`${api}/topics`, { name: "crud.dup", description: "second" });
    expect(reply.status).toBe(409);
    expect(reply.body).toEqual({ error: "topic already exists", details: expect.stringContaining("crud.dup"), code: "SB_TOPIC_EXISTS" });
    expect((await send("GET", "/topics/crud.dup")).body.description).toBe("first");
  });

  it("an auto-created topic also makes a later POST of the name a 409", async () => {
    expect((await postJson(`${api}/events?topic=crud.auto`, { a: 1 })).status).toBe(201);
    expect((await postJson(`${api}/topics`, { name: "crud.auto" })).status).toBe(409);
  });

  it.each([
    ["no name", { description: "x" }, "SB_TOPIC_INVALID"],
    ["a bad name", { name: "has space" }, "SB_TOPIC_INVALID"],
    ["a pattern as name", { name: "orders.*" }, "SB_TOPIC_INVALID"],
    ["an unknown field", { name: "crud.extra", color: "red" }, "SB_TOPIC_INVALID"],
    ["a description that is not text", { name: "crud.desc", description: 5 }, "SB_TOPIC_INVALID"],
    ["a schema that is not an object", { name: "crud.schema", schema: "string" }, "SB_TOPIC_SCHEMA_INVALID"],
    ["a schema that does not compile", { name: "crud.schema", schema: { type: "no-such-type" } }, "SB_TOPIC_SCHEMA_INVALID"],
    ["an array body", [{ name: "crud.array" }], "SB_TOPIC_INVALID"],
  ])("POST with %s → 400, nothing created", async (_, body, code) => {
    const reply = await postJson(`${api}/topics`, body);
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body.code).toBe(code);
    const name = (Array.isArray(body) ? body[0] : (body as { name?: unknown })).name;
    if (typeof name === "string" && !/[ *]/.test(name)) expect((await send("GET", `/topics/${name}`)).status).toBe(404);
  });

  it("GET lists topics sorted by name", async () => {
    await postJson(`${api}/topics`, { name: "crud.list-b" });
    await postJson(`${api}/topics`, { name: "crud.list-a" });
    const reply = await send("GET", "/topics");
    expect(reply.status).toBe(200);
    const names: string[] = reply.body.data.map((t: { name: string }) => t.name);
    expect(names).toContain("crud.list-a");
    expect(names).toContain("crud.list-b");
    expect(names).toEqual([...names].sort());
  });

  it("GET one topic reports its event count and last event time", async () => {
    expect((await postJson(`${api}/topics`, { name: "crud.stats" })).status).toBe(201);
    const before = Date.now();
    const first = await postJson(`${api}/events?topic=crud.stats`, [{ n: 1 }, { n: 2 }]);
    expect(first.status).toBe(201);
    const second = await postJson(`${api}/events`, { topic: "crud.stats", time: "2001-01-01T00:00:00Z", data: { n: 3 } });
    expect(second.status).toBe(201);
    const after = Date.now();

    const reply = await send("GET", "/topics/crud.stats");
    expect(reply.status).toBe(200);
    expect(reply.body.event_count).toBe(3);
    expect(reply.body.last_event_at).toMatch(RFC3339_MS);
    // The receive time of the newest event, not the event's own (client-given) time.
    const last = Date.parse(reply.body.last_event_at);
    expect(last).toBeGreaterThanOrEqual(before - 1);
    expect(last).toBeLessThanOrEqual(after + 1);
  });

  it("GET an unknown topic → 404 SB_TOPIC_NOT_FOUND", async () => {
    const reply = await send("GET", "/topics/crud.none");
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe("SB_TOPIC_NOT_FOUND");
  });

  it("PATCH updates the given fields only", async () => {
    const created = await postJson(`${api}/topics`, { name: "crud.patch", description: "old", origin_host: "a.example" });
    expect(created.status).toBe(201);
    const reply = await send("PATCH", "/topics/crud.patch", { description: "new" });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body).toMatchObject({ name: "crud.patch", description: "new", origin_host: "a.example", schema: null });
    expect(Date.parse(reply.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.updated_at));
    expect((await send("GET", "/topics/crud.patch")).body.description).toBe("new");

    const cleared = await send("PATCH", "/topics/crud.patch", { origin_host: null });
    expect(cleared.body).toMatchObject({ description: "new", origin_host: null });

    const bad = await send("PATCH", "/topics/crud.patch", { name: "renamed" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("SB_TOPIC_INVALID");
    expect((await send("PATCH", "/topics/crud.missing", { description: "x" })).status).toBe(404);
  });

  it("DELETE removes the topic and its events: 204, then 404", async () => {
    const published = await postJson(`${api}/events?topic=crud.delete`, { a: 1 });
    expect(published.status).toBe(201);
    const reply = await send("DELETE", "/topics/crud.delete");
    expect(reply.status).toBe(204);
    expect(reply.text).toBe("");
    expect((await send("GET", "/topics/crud.delete")).status).toBe(404);
    expect((await send("GET", `/events/${published.body.id}`)).status).toBe(404);
    const again = await send("DELETE", "/topics/crud.delete");
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("SB_TOPIC_NOT_FOUND");
    // Publishing again re-creates it, empty but for the new event.
    expect((await postJson(`${api}/events?topic=crud.delete`, { a: 2 })).status).toBe(201);
    expect((await send("GET", "/topics/crud.delete")).body.event_count).toBe(1);
  });
});
