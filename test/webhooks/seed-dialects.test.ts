/**
 * switch's dialect end to end: a subscription whose filter is one of switch's Python expressions (`filter_syntax:
 * "switch"`), over the event's data and the publish request's captured headers, delivers exactly the events it
 * selects to a real receiver; the headers show in the envelope (search, SSE, webhook bodies).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type ReceivedRequest, type Receiver } from "../helpers/receiver.js";
import { openLiveSse } from "../helpers/sse.js";
import { createSubscription, eventIdOf } from "../helpers/webhooks.js";

let hub: TestHub;
let receiver: Receiver;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, captureHeaders: "X-Tenant, x-request-id" });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await hub?.close();
});

/** Publishes one event with these request headers; returns its id. */
async function publishWith(topic: string, data: unknown, headers: Record<string, string> = {}): Promise<string> {
  const reply = await postJson(`${hub.url}/api/events`, { topic, data }, headers);
  expect(reply.status, reply.text).toBe(201);
  return reply.body.id;
}

const at = (tag: string) => (r: ReceivedRequest) => new URL(r.path, "http://x").searchParams.get("tag") === tag;

describe("switch filters on subscriptions", () => {
  const FILTER = 'data["body"]["x"] == 1 and data["headers"]["X-Tenant"] == "acme" or data["body"]["special_key"] == "special value"';

  it("are stored as written, with their syntax and their CEL, and deliver only the events they select", async () => {
    const sub = await createSubscription(hub.url, {
      topic: "sw.orders",
      url: `${receiver.url}?tag=sw`,
      filter: FILTER,
      filter_syntax: "switch",
      max_in_flight: 1,
    });
    expect(sub.filter).toBe(FILTER);
    expect(sub.filter_syntax).toBe("switch");
    expect(sub.filter_cel).toBe('(((data["x"] == 1.0) ? (headers["x-tenant"] == "acme") : false) ? true : (data["special_key"] == "special value"))');
    const read = await request(`${hub.url}/api/subscriptions/${sub.id}`);
    expect([read.body.filter, read.body.filter_syntax, read.body.filter_cel]).toEqual([FILTER, "switch", sub.filter_cel]);

    const everything = await createSubscription(hub.url, {
      topic: "sw.orders",
      url: `${receiver.url}?tag=all`,
      filter: "True",
      filter_syntax: "switch",
      max_in_flight: 1,
    });
    expect(everything.filter_cel).toBe("true");

    const matching = [await publishWith("sw.orders", { x: 1 }, { "x-tenant": "acme" }), await publishWith("sw.orders", { x: 2, special_key: "special value" })];
    const ignored = [
      await publishWith("sw.orders", { x: 1 }, { "x-tenant": "globex" }),
      await publishWith("sw.orders", { x: 1 }), // no header: data["headers"]["X-Tenant"] raises, no match
      await publishWith("sw.orders", { x: 2 }, { "x-tenant": "acme" }),
    ];
    const last = await publishWith("sw.orders", { x: 1, special_key: "special value" }, { "x-tenant": "acme" });

    // max_in_flight 1 and one topic: `all` receives in order, so once it has the last event the filtered one has
    // had every chance at the others (each subscription reads the log in seq order).
    await receiver.waitFor(6, 10_000, at("all"));
    await receiver.waitFor(3, 10_000, (r) => at("sw")(r));
    await receiver.waitFor(1, 10_000, (r) => at("sw")(r) && eventIdOf(r) === last);
    const got = receiver.requests.filter(at("sw")).map(eventIdOf);
    expect(got).toEqual([...matching, last]);
    for (const id of ignored) expect(got).not.toContain(id);
    expect(receiver.requests.filter(at("all")).map(eventIdOf)).toEqual([...matching, ...ignored, last]);
  });

  it("answer 400 naming a construct that has no translation, and where it is", async () => {
    const reply = await postJson(`${hub.url}/api/subscriptions`, {
      topic: "sw.x",
      url: receiver.url,
      filter: 'data["body"]["x"] == 1 and len(data["body"]["items"]) > 2',
      filter_syntax: "switch",
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_FILTER_INVALID");
    expect(reply.body.details).toMatch(/^a function call \(len\) has no translation \(switch filter, line 1, column 28\)/);
    const lambda = await postJson(`${hub.url}/api/subscriptions`, { topic: "sw.x", url: receiver.url, filter: "lambda d: True", filter_syntax: "switch" });
    expect(lambda.body.details).toMatch(/^a lambda has no translation/);
    // The same text as CEL is refused as CEL (the default syntax).
    const asCel = await postJson(`${hub.url}/api/subscriptions`, { topic: "sw.x", url: receiver.url, filter: 'data["body"]["x"] == 1 and True' });
    expect(asCel.status).toBe(400);
    expect(asCel.body.code).toBe("SB_FILTER_INVALID");
    const unknown = await postJson(`${hub.url}/api/subscriptions`, { topic: "sw.x", url: receiver.url, filter: "true", filter_syntax: "python" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toMatch(/filter_syntax must be "cel" or "switch"/);
  });

  it("change with the filter: a patch back to CEL drops the source; filter_syntax alone is refused", async () => {
    const sub = await createSubscription(hub.url, { topic: "sw.patch", url: receiver.url, filter: "not False", filter_syntax: "switch" });
    const lone = await request(`${hub.url}/api/subscriptions/${sub.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filter_syntax: "cel" }),
    });
    expect(lone.status).toBe(400);
    expect(lone.body.details).toMatch(/give filter with it/);
    const patched = await request(`${hub.url}/api/subscriptions/${sub.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filter: "data.x == 1" }),
    });
    expect(patched.status, patched.text).toBe(200);
    expect([patched.body.filter, patched.body.filter_syntax, patched.body.filter_cel]).toEqual(["data.x == 1", "cel", "data.x == 1"]);
    const again = await request(`${hub.url}/api/subscriptions/${sub.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filter: 'data["body"]["x"] is None', filter_syntax: "switch" }),
    });
    expect([again.body.filter, again.body.filter_syntax, again.body.filter_cel]).toEqual(['data["body"]["x"] is None', "switch", '(data["x"] == null)']);
  });
});

describe("captured request headers", () => {
  it("show in the envelope of search, GET /events/:id, SSE and webhook bodies, and only the allowed ones", async () => {
    const stream = await openLiveSse(hub.url, "/api/topics/hdr.env/stream?envelope=true&filter=" + encodeURIComponent('headers["x-tenant"] == "acme"'));
    try {
      await createSubscription(hub.url, { topic: "hdr.env", url: `${receiver.url}?tag=env`, body: "envelope", max_in_flight: 1 });
      const id = await publishWith("hdr.env", { n: 1 }, { "X-Tenant": "acme", "X-Request-Id": "r-7", "X-Secret": "not kept" });
      const plain = await publishWith("hdr.env", { n: 2 });
      const other = await publishWith("hdr.env", { n: 3 }, { "x-tenant": "globex" });

      const search = await request(`${hub.url}/api/events?topic=hdr.env`);
      expect(search.body.data.map((e: { headers?: unknown }) => e.headers)).toEqual([
        { "x-tenant": "acme", "x-request-id": "r-7" },
        undefined,
        { "x-tenant": "globex" },
      ]);
      const one = await request(`${hub.url}/api/events/${id}`);
      expect(one.body.headers).toEqual({ "x-tenant": "acme", "x-request-id": "r-7" });
      expect(Object.keys(one.body)).toEqual([
        "id",
        "seq",
        "topic",
        "type",
        "source",
        "subject",
        "time",
        "key",
        "data",
        "attributes",
        "headers",
        "received_at",
        "deliveries",
      ]);
      expect(Object.keys((await request(`${hub.url}/api/events/${plain}`)).body)).not.toContain("headers");

      // The stream's filter sees `headers`: only the acme event passes.
      const [frame] = await stream.waitForEvents(1);
      expect(frame!.id).toBe(id);
      expect(JSON.parse(frame!.data!).headers).toEqual({ "x-tenant": "acme", "x-request-id": "r-7" });

      const hooks = await receiver.waitFor(3, 10_000, at("env"));
      expect(hooks.map((r) => JSON.parse(r.body).headers)).toEqual([{ "x-tenant": "acme", "x-request-id": "r-7" }, undefined, { "x-tenant": "globex" }]);
      expect(hooks.map(eventIdOf)).toEqual([id, plain, other]);
      expect(
        stream
          .frames()
          .filter((f) => f.id !== undefined)
          .map((f) => f.id),
      ).toEqual([id]);
    } finally {
      stream.close();
    }
  });

  it("survive an export and an import into another hub", async () => {
    const id = await publishWith("hdr.move", { n: 1 }, { "x-tenant": "acme" });
    const exported = (await request(`${hub.url}/api/events?topic=hdr.move`)).body.data;
    const other = await startTestHub();
    try {
      const imported = await postJson(`${other.url}/api/events/import`, exported);
      expect(imported.body).toEqual({ imported: 1, skipped: 0 });
      expect((await request(`${other.url}/api/events/${id}`)).body.headers).toEqual({ "x-tenant": "acme" });
      const bad = await postJson(`${other.url}/api/events/import`, [{ ...exported[0], id: "evt_other", headers: { "X-Up": "1" } }]);
      expect(bad.status).toBe(400);
      expect(bad.body.details).toMatch(/"X-Up" is not a lower-case header name/);
    } finally {
      await other.close();
    }
  });

  it("are bounded: more than 8 KiB of them gets 431 and stores nothing", async () => {
    const before = (await request(`${hub.url}/api/events?topic=hdr.big`)).body.data.length;
    const reply = await postJson(`${hub.url}/api/events`, { topic: "hdr.big", data: {} }, { "x-tenant": "t".repeat(5000), "x-request-id": "r".repeat(4000) });
    expect(reply.status).toBe(431);
    expect(reply.body).toEqual({
      error: "request headers too large",
      details: "the captured headers (SWITCHBOARD_CAPTURE_HEADERS) of this request are over 8192 bytes",
      code: "SB_REQUEST_HEADERS_TOO_LARGE",
    });
    expect((await request(`${hub.url}/api/events?topic=hdr.big`)).body.data.length).toBe(before);
  });

  it("are not kept when the setting is empty (the default)", async () => {
    const bare = await startTestHub();
    try {
      const reply = await postJson(`${bare.url}/api/events`, { topic: "hdr.none", data: {} }, { "x-tenant": "acme" });
      expect(reply.status).toBe(201);
      expect(Object.keys((await request(`${bare.url}/api/events/${reply.body.id}`)).body)).not.toContain("headers");
    } finally {
      await bare.close();
    }
  });
});
