import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { createTestStream, NATS_PORT } from "../helpers/nats.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, FAST_RETRY, publish, sleep } from "../helpers/webhooks.js";

let hub: TestHub;
let receiver: Receiver;
let api: string;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  api = `${hub.url}/api`;
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await hub?.close();
});

function patch(url: string, body: unknown) {
  return request(url, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("subscriptions API", () => {
  it("creates with a generated secret, hides it in list/get, shows it at /secret, patches and deletes", async () => {
    const created = await createSubscription(hub.url, { topic: "api.crud", url: receiver.url, headers: { "X-Team": "ops" } });
    expect(created.id).toMatch(/^sub_/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(created).toMatchObject({ topic: "api.crud", url: receiver.url, active: true, ordering: "none", body: "data", headers: { "x-team": "ops" } });

    const got = await request(`${api}/subscriptions/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(created.id);
    expect(got.body).not.toHaveProperty("secret");
    expect(got.text).not.toContain(created.secret);

    const list = await request(`${api}/subscriptions`);
    expect(list.status).toBe(200);
    const listed = list.body.data.find((s: any) => s.id === created.id);
    expect(listed).toBeDefined();
    expect(list.text).not.toContain(created.secret);

    const secret = await request(`${api}/subscriptions/${created.id}/secret`);
    expect(secret.status).toBe(200);
    expect(secret.body).toEqual({ secret: created.secret });

    const patched = await patch(`${api}/subscriptions/${created.id}`, { topic: "api.crud2", max_in_flight: 3, retry: { schedule: [0, 1] } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ topic: "api.crud2", max_in_flight: 3, retry: { schedule: [0, 1] } });
    expect((await request(`${api}/subscriptions/${created.id}`)).body.topic).toBe("api.crud2");

    const badPatch = await patch(`${api}/subscriptions/${created.id}`, { start: "beginning" });
    expect(badPatch.status).toBe(400);

    const del = await request(`${api}/subscriptions/${created.id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect((await request(`${api}/subscriptions/${created.id}`)).status).toBe(404);
    expect((await request(`${api}/subscriptions/${created.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await patch(`${api}/subscriptions/${created.id}`, { max_in_flight: 2 })).status).toBe(404);
  });

  it("pause delivers nothing; resume delivers the backlog", async () => {
    const topic = "api.pause";
    const sub = await createSubscription(hub.url, { topic, url: receiver.url, retry: FAST_RETRY });
    const mine = (r: { body: string }) => r.body.includes('"paused-test"');

    const paused = await postJson(`${api}/subscriptions/${sub.id}/pause`, {});
    expect(paused.status).toBe(200);
    expect(paused.body.active).toBe(false);
    const posted = await publish(
      hub.url,
      Array.from({ length: 5 }, (_, i) => ({ topic, data: { tag: "paused-test", i } })),
    );
    // Nothing may arrive while paused; give the dispatcher a moment to misbehave.
    await sleep(400);
    expect(receiver.requests.filter(mine)).toHaveLength(0);

    const resumed = await postJson(`${api}/subscriptions/${sub.id}/resume`, {});
    expect(resumed.status).toBe(200);
    expect(resumed.body.active).toBe(true);
    const got = await receiver.waitFor(5, 10_000, mine);
    expect(new Set(got.map((r) => String(r.headers["ce-id"])))).toEqual(new Set(posted.map((p) => p.id)));
  });

  it.each([
    ["an unknown field", { topic: "a.b", url: "RECEIVER", colour: "red" }, /unknown field "colour"/],
    ["a bad topic pattern", { topic: "a..b", url: "RECEIVER" }, /topic/],
    ["a bad url", { topic: "a.b", url: "not a url" }, /url|URL/],
    ["a non-http url", { topic: "a.b", url: "ftp://127.0.0.1/x" }, /./],
    ["a bad retry schedule (negative)", { topic: "a.b", url: "RECEIVER", retry: { schedule: [0, -1] } }, /schedule\[1\]/],
    ["a bad retry schedule (empty)", { topic: "a.b", url: "RECEIVER", retry: { schedule: [] } }, /1 to 50 entries/],
    ["a bad retry schedule (not a list)", { topic: "a.b", url: "RECEIVER", retry: "soon" }, /retry/],
    ["a reserved header webhook-id", { topic: "a.b", url: "RECEIVER", headers: { "webhook-id": "x" } }, /webhook-id/],
    ["a reserved header ce-type", { topic: "a.b", url: "RECEIVER", headers: { "CE-Type": "x" } }, /CE-Type/i],
    ["a missing topic", { url: "RECEIVER" }, /topic is required/],
    ["a missing url", { topic: "a.b" }, /url is required/],
    ["an ordering that does not exist", { topic: "a.b", url: "RECEIVER", ordering: "fifo" }, /ordering/],
    ["a bad secret", { topic: "a.b", url: "RECEIVER", secret: "hunter2" }, /secret/],
  ] as Array<[string, Record<string, unknown>, RegExp]>)("answers 400 for %s", async (_what, body, details) => {
    const input = { ...body, ...(body.url === "RECEIVER" ? { url: receiver.url } : {}) };
    const reply = await postJson(`${api}/subscriptions`, input);
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body.code).toMatch(/^SB_/);
    expect(String(reply.body.details)).toMatch(details);
  });

  it("answers 400 with the position for a filter that does not compile", async () => {
    const filter = "data.amount >> 1";
    const reply = await postJson(`${api}/subscriptions`, { topic: "a.b", url: receiver.url, filter });
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body.code).toBe("SB_FILTER_INVALID");
    // The source line, then a caret under the offending character: the second '>' at column 13.
    const lines = String(reply.body.details).split("\n");
    const at = lines.findIndex((l) => l.endsWith(filter));
    expect(at, String(reply.body.details)).toBeGreaterThanOrEqual(0);
    const sourceStart = lines[at]!.length - filter.length;
    expect(lines[at + 1]!.indexOf("^") - sourceStart).toBe(filter.indexOf(">>") + 1);
  });

  it("answers 404 for an unknown subscription and its actions", async () => {
    expect((await request(`${api}/subscriptions/sub_nope`)).status).toBe(404);
    expect((await request(`${api}/subscriptions/sub_nope/secret`)).status).toBe(404);
    expect((await postJson(`${api}/subscriptions/sub_nope/pause`, {})).status).toBe(404);
    expect((await postJson(`${api}/subscriptions/sub_nope/retry`, {})).status).toBe(404);
    expect((await postJson(`${api}/subscriptions/sub_nope/replay`, {})).status).toBe(404);
    expect((await request(`${api}/deliveries/dlv_nope`)).status).toBe(404);
    expect((await postJson(`${api}/deliveries/dlv_nope/retry`, {})).status).toBe(404);
  });
});

describe("subscription headers", () => {
  const long = (n: number) => "v".repeat(n);
  it.each([
    // Hop-by-hop and framing headers: undici refuses some, the others break the exchange with every receiver.
    ["connection", { connection: "close" }],
    ["keep-alive", { "Keep-Alive": "timeout=5" }],
    ["te", { te: "trailers" }],
    ["trailer", { trailer: "x-sum" }],
    ["transfer-encoding", { "transfer-encoding": "chunked" }],
    ["upgrade", { upgrade: "websocket" }],
    ["expect", { Expect: "100-continue" }],
    ["host", { host: "internal.example" }],
    ["content-length", { "content-length": "1" }],
    ["proxy-authorization", { "proxy-authorization": "Basic eDp5" }],
    ["proxy-connection", { "proxy-connection": "keep-alive" }],
    ["http2-settings", { "http2-settings": "AAMAAABkAAQAoAAAAAIAAAAA" }],
    // Set by the hub on every attempt.
    ["content-type", { "content-type": "text/plain" }],
    ["content-encoding", { "content-encoding": "gzip" }],
    ["user-agent", { "user-agent": "mine" }],
    ["traceparent", { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }],
    ["tracestate", { tracestate: "a=b" }],
    ["webhook-signature", { "webhook-signature": "v1,x" }],
    ["ce-source", { "ce-source": "/x" }],
    // Names that are not RFC 9110 tokens.
    ['"x y"', { "x y": "1" }],
    ['"x:y"', { "x:y": "1" }],
    ['"é"', { é: "1" }],
    ['""', { "": "1" }],
    [`"${"n".repeat(129)}"`, { ["n".repeat(129)]: "1" }],
    // Values with control characters or outside ASCII.
    ["x-cr", { "x-cr": "a\rb" }],
    ["x-lf", { "x-lf": "a\nb" }],
    ["x-nul", { "x-nul": "a\u0000b" }],
    ["x-soh", { "x-soh": "a\u0001b" }],
    ["x-esc", { "x-esc": "a\u001bb" }],
    ["x-del", { "x-del": "a\u007fb" }],
    ["x-latin1", { "x-latin1": "café" }],
    ["x-euro", { "x-euro": "5 €" }],
    ["x-ls", { "x-ls": "a\u2028b" }],
    // Not a string, too long, repeated, too many, too much altogether.
    ["x-number", { "x-number": 5 }],
    ["x-null", { "x-null": null }],
    ["x-long", { "x-long": long(4097) }],
    ["x-twice", { "X-Twice": "1", "x-twice": "2" }],
    ["at most 32", Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x-h${i}`, "1"]))],
    ["8192", Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`x-big${i}`, long(3000)]))],
  ] as Array<[string, Record<string, unknown>]>)("refuses %s with 400, at creation and on update", async (named, headers) => {
    const created = await postJson(`${api}/subscriptions`, { topic: "hdr.bad", url: receiver.url, headers });
    expect(created.status, created.text).toBe(400);
    expect(created.body.code).toBe("SB_SUBSCRIPTION_INVALID");
    expect(String(created.body.details).toLowerCase()).toContain(named.toLowerCase());

    const sub = await createSubscription(hub.url, { topic: "hdr.bad", url: receiver.url });
    const updated = await patch(`${api}/subscriptions/${sub.id}`, { headers });
    expect(updated.status, updated.text).toBe(400);
    expect(updated.body.code).toBe("SB_SUBSCRIPTION_INVALID");
    expect(String(updated.body.details).toLowerCase()).toContain(named.toLowerCase());
    await request(`${api}/subscriptions/${sub.id}`, { method: "DELETE" });
  });

  it("delivers valid custom headers, tabs and all, to a real receiver", async () => {
    const topic = "hdr.ok";
    const headers = { authorization: "Bearer x", "X-Tenant": "a", "x-list": "a,\tb", "x-empty": "", "x-max": long(4096) };
    await createSubscription(hub.url, { topic, url: receiver.url, headers });
    const [event] = await publish(hub.url, { topic, data: {} });
    const [got] = await receiver.waitFor(1, 10_000, (r) => r.headers["ce-id"] === event!.id);
    expect(got!.headers).toMatchObject({ authorization: "Bearer x", "x-tenant": "a", "x-list": "a,\tb", "x-empty": "", "x-max": long(4096) });
  });

  it("masks credential-like values in every reply but the creation one, and shows them to admins at /headers", async () => {
    const token = "Bearer abcdefghijklmnopqrstuvwxyz1234";
    const headers = {
      authorization: token,
      cookie: "session=s3cr3t-cookie-value",
      "x-api-key": "key-0123456789abcdef",
      "x-auth-token": "tok",
      "x-custom": "Basic dXNlcjpwYXNzd29yZA==",
      "x-tenant": "acme",
    };
    const masked = {
      authorization: "****1234",
      cookie: "****alue",
      "x-api-key": "****cdef",
      "x-auth-token": "****",
      "x-custom": "****ZA==",
      "x-tenant": "acme",
    };
    const secrets = ["abcdefghijklmnop", "s3cr3t", "0123456789ab", '"tok"', "dXNlcjpw"];
    const created = await createSubscription(hub.url, { topic: "hdr.mask", url: receiver.url, headers });
    expect(created.headers).toEqual(headers);

    const got = await request(`${api}/subscriptions/${created.id}`);
    expect(got.body.headers).toEqual(masked);
    const list = await request(`${api}/subscriptions`);
    expect(list.body.data.find((s: any) => s.id === created.id).headers).toEqual(masked);
    const paused = await postJson(`${api}/subscriptions/${created.id}/pause`, {});
    expect(paused.body.headers).toEqual(masked);
    for (const text of [got.text, list.text, paused.text]) for (const secret of secrets) expect(text).not.toContain(secret);

    const clear = await request(`${api}/subscriptions/${created.id}/headers`);
    expect(clear.status, clear.text).toBe(200);
    expect(clear.body).toEqual({ headers });

    // A client that PUTs back what it read keeps the real values; a new value replaces the old one.
    const roundTrip = await patch(`${api}/subscriptions/${created.id}`, { headers: { ...masked, "x-auth-token": "tok2" }, active: true });
    expect(roundTrip.status, roundTrip.text).toBe(200);
    expect(roundTrip.body.headers).toEqual(masked);
    expect((await request(`${api}/subscriptions/${created.id}/headers`)).body).toEqual({ headers: { ...headers, "x-auth-token": "tok2" } });
    const [event] = await publish(hub.url, { topic: "hdr.mask", data: {} });
    const [delivered] = await receiver.waitFor(1, 10_000, (r) => r.headers["ce-id"] === event!.id);
    expect(delivered!.headers).toMatchObject({ authorization: token, "x-api-key": headers["x-api-key"], "x-auth-token": "tok2" });

    expect((await request(`${api}/subscriptions/sub_nope/headers`)).status).toBe(404);
  });

  it("keeps /headers for admins", async () => {
    const secret = "a-test-secret-of-enough-length-0123456789";
    const guarded = await startTestHub({ jwtSecret: secret, allowPrivateTargets: true });
    try {
      const token = (scope: string) =>
        new SignJWT({ scope })
          .setProtectedHeader({ alg: "HS256" })
          .setSubject("t")
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(secret));
      const as = async (scope: string) => ({ authorization: `Bearer ${await token(scope)}` });
      const created = await postJson(
        `${guarded.url}/api/subscriptions`,
        { topic: "hdr.auth", url: receiver.url, headers: { authorization: "Bearer y" } },
        await as("admin"),
      );
      expect(created.status, created.text).toBe(201);
      const denied = await request(`${guarded.url}/api/subscriptions/${created.body.id}/headers`, { headers: await as("publish:** subscribe:**") });
      expect(denied.status).toBe(403);
      expect(denied.text).not.toContain("Bearer y");
      const allowed = await request(`${guarded.url}/api/subscriptions/${created.body.id}/headers`, { headers: await as("admin") });
      expect(allowed.body).toEqual({ headers: { authorization: "Bearer y" } });
    } finally {
      await guarded.close();
    }
  });
});

describe("subscription limit", () => {
  let small: TestHub;
  beforeAll(async () => {
    small = await startTestHub({ allowPrivateTargets: true, maxSubscriptions: 2 });
  });
  afterAll(() => small?.close());

  it("answers 409 SB_SUBSCRIPTION_LIMIT past maxSubscriptions, naming the limit and the setting, until one is deleted", async () => {
    const first = await createSubscription(small.url, { topic: "cap.a", url: receiver.url });
    await createSubscription(small.url, { topic: "cap.b", url: receiver.url });
    const third = await postJson(`${small.url}/api/subscriptions`, { topic: "cap.c", url: receiver.url });
    expect(third.status, third.text).toBe(409);
    expect(third.body.code).toBe("SB_SUBSCRIPTION_LIMIT");
    expect(third.body.details).toContain("2");
    expect(third.body.details).toContain("SWITCHBOARD_MAX_SUBSCRIPTIONS");
    const publisher = await postJson(`${small.url}/api/publishers`, { active: true, topic: "cap.p", target: receiver.url, type: "http" });
    expect(publisher.status, publisher.text).toBe(409);
    expect(publisher.body.code).toBe("SB_SUBSCRIPTION_LIMIT");
    expect((await request(`${small.url}/api/subscriptions`)).body.data).toHaveLength(2);

    expect((await request(`${small.url}/api/subscriptions/${first.id}`, { method: "DELETE" })).status).toBe(204);
    await createSubscription(small.url, { topic: "cap.c", url: receiver.url });
  });

  it("does not let concurrent creations overshoot the limit", async () => {
    for (const s of (await request(`${small.url}/api/subscriptions`)).body.data) {
      await request(`${small.url}/api/subscriptions/${s.id}`, { method: "DELETE" });
    }
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) => postJson(`${small.url}/api/subscriptions`, { topic: `cap.race${i}`, url: receiver.url })),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([201, 201, 409, 409, 409]);
    expect((await request(`${small.url}/api/subscriptions`)).body.data).toHaveLength(2);
  });
});

describe("Postoffice publishers", () => {
  it("creates a publisher (201) whose deliveries flow; the same topic+target again is 409", async () => {
    const topic = "po.orders";
    const reply = await postJson(`${api}/publishers`, { active: true, topic, target: receiver.url, type: "http", from_now: true });
    expect(reply.status, reply.text).toBe(201);
    expect(reply.body.id).toMatch(/^sub_/);
    expect(reply.body).toMatchObject({ topic, url: receiver.url, active: true });

    const [event] = await publish(hub.url, { topic, data: { po: 1 } });
    const [got] = await receiver.waitFor(1, 10_000, (r) => r.headers["ce-id"] === event!.id);
    expect(got!.body).toBe('{"po":1}');

    const again = await postJson(`${api}/publishers`, { active: true, topic, target: receiver.url, type: "http", from_now: true });
    expect(again.status, again.text).toBe(409);
    expect(again.body.code).toBe("SB_SUBSCRIPTION_EXISTS");
  });

  it("from_now false delivers what the topic already holds; from_now true does not", async () => {
    const [old] = await publish(hub.url, { topic: "po.history", data: { old: true } });
    const later = await postJson(`${api}/publishers`, {
      active: true,
      topic: "po.history",
      target: `${receiver.url}?from_now=false`,
      type: "http",
      from_now: false,
    });
    expect(later.status, later.text).toBe(201);
    const fresh = await postJson(`${api}/publishers`, {
      active: true,
      topic: "po.history",
      target: `${receiver.url}?from_now=true`,
      type: "http",
      from_now: true,
    });
    expect(fresh.status, fresh.text).toBe(201);
    const [next] = await publish(hub.url, { topic: "po.history", data: { old: false } });
    const tagged = (tag: string) => (r: { path: string }) => r.path.endsWith(`from_now=${tag}`);
    const fromStart = await receiver.waitFor(2, 10_000, tagged("false"));
    expect(fromStart.map((r) => r.headers["ce-id"]).sort()).toEqual([old!.id, next!.id].sort());
    const fromNow = await receiver.waitFor(1, 10_000, tagged("true"));
    expect(fromNow.map((r) => r.headers["ce-id"])).toEqual([next!.id]);
  });

  it("answers 400 naming the supported types for type pubsub", async () => {
    const reply = await postJson(`${api}/publishers`, { active: true, topic: "po.x", target: receiver.url, type: "pubsub", from_now: true });
    expect(reply.status, reply.text).toBe(400);
    expect(String(reply.body.details)).toMatch(/pubsub/);
    expect(String(reply.body.details)).toMatch(/"http"/);
    expect(reply.body).toMatchObject({
      code: "SB_SUBSCRIPTION_INVALID",
      details: 'type "pubsub" is not supported; supported publisher types: "http", "nats", "amqp", "mqtt", "redis"',
    });
  });

  it("a type nats publisher publishes to JetStream; the 409 for a second one masks the credential", async () => {
    const stream = await createTestStream();
    try {
      const topic = "po.nats";
      const target = `nats://app:s3cret@127.0.0.1:${NATS_PORT}/${stream.subject}`;
      const reply = await postJson(`${api}/publishers`, { active: true, topic, target, type: "nats" });
      expect(reply.status, reply.text).toBe(201);
      expect(reply.body).toMatchObject({ topic, url: `nats://app:****@127.0.0.1:${NATS_PORT}/${stream.subject}`, active: true });
      const [event] = await publish(hub.url, { topic, data: { po: "nats" } });
      const [message] = await eventually("the JetStream message", async () => ((await stream.messages()).length > 0 ? stream.messages() : undefined));
      expect(message!.headers?.get("ce-id")).toBe(event!.id);
      expect(new TextDecoder().decode(message!.data)).toBe('{"po":"nats"}');

      const again = await postJson(`${api}/publishers`, { active: true, topic, target, type: "nats" });
      expect(again.status, again.text).toBe(409);
      expect(again.body.code).toBe("SB_SUBSCRIPTION_EXISTS");
      expect(again.text).not.toContain("s3cret");
      expect((await request(`${api}/subscriptions/${reply.body.id}`, { method: "DELETE" })).status).toBe(204);
    } finally {
      await stream.close();
    }
  });

  it.each([
    ["amqp", "amqp://guest:guest@127.0.0.1:5672/?exchange=amq.direct&routing_key=po", "amqp://guest:****@127.0.0.1:5672/?exchange=amq.direct&routing_key=po"],
    ["amqp", "amqps://guest:guest@127.0.0.1:5671/?exchange=amq.direct&routing_key=po", "amqps://guest:****@127.0.0.1:5671/?exchange=amq.direct&routing_key=po"],
    ["mqtt", "mqtt://127.0.0.1:1883/po/orders", "mqtt://127.0.0.1:1883/po/orders"],
    ["redis", "redis://127.0.0.1:6379/0?stream=po.stream", "redis://127.0.0.1:6379/0?stream=po.stream"],
    ["redis", "rediss://127.0.0.1:6380/0?channel=po", "rediss://127.0.0.1:6380/0?channel=po"],
    ["nats", "nats+tls://127.0.0.1:4443/po.orders", "nats+tls://127.0.0.1:4443/po.orders"],
  ])("type %s takes %s as its target (201, the subscription's url)", async (type, target, shown) => {
    const reply = await postJson(`${api}/publishers`, { active: false, topic: `po.kind.${type}`, target, type });
    expect(reply.status, reply.text).toBe(201);
    expect(reply.body).toMatchObject({ topic: `po.kind.${type}`, url: shown, active: false });
    expect((await request(`${api}/subscriptions/${reply.body.id}`, { method: "DELETE" })).status).toBe(204);
  });

  it.each([
    ["nats", "amqp://127.0.0.1:5672/?exchange=x", 'target of a type "nats" publisher needs a url with scheme nats or nats+tls, got "amqp"'],
    ["http", `nats://127.0.0.1:${NATS_PORT}/po.orders`, 'target of a type "http" publisher needs a url with scheme http or https, got "nats"'],
    ["redis", "https://example.com/hook", 'target of a type "redis" publisher needs a url with scheme redis or rediss, got "https"'],
    ["mqtt", "mqtts+x://127.0.0.1/po", 'target of a type "mqtt" publisher needs a url with scheme mqtt or mqtts, got "mqtts+x"'],
    ["amqp", "nats://127.0.0.1/po", 'target of a type "amqp" publisher needs a url with scheme amqp or amqps, got "nats"'],
  ])("type %s with target %s is a 400", async (type, target, details) => {
    const reply = await postJson(`${api}/publishers`, { active: true, topic: "po.mismatch", target, type });
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body).toMatchObject({ code: "SB_SUBSCRIPTION_INVALID", details });
  });

  it("a broker target is checked by its driver: type nats with no subject is a 400", async () => {
    const reply = await postJson(`${api}/publishers`, { active: true, topic: "po.bad", target: `nats://127.0.0.1:${NATS_PORT}/`, type: "nats" });
    expect(reply.status, reply.text).toBe(400);
    expect(reply.body.code).toBe("SB_SUBSCRIPTION_INVALID");
    expect(reply.body.details).toMatch(/needs a subject/);
  });

  it.each([
    ["active", { topic: "po.y", target: "RECEIVER", type: "http" }],
    ["topic", { active: true, target: "RECEIVER", type: "http" }],
    ["target", { active: true, topic: "po.y", type: "http" }],
    ["type", { active: true, topic: "po.y", target: "RECEIVER" }],
  ])("answers 400 when %s is missing", async (field, body) => {
    const input: Record<string, unknown> = { ...body };
    if (input.target === "RECEIVER") input.target = receiver.url;
    const reply = await postJson(`${api}/publishers`, input);
    expect(reply.status, reply.text).toBe(400);
    expect(String(reply.body.details)).toContain(field);
  });
});

describe("private targets", () => {
  let strict: TestHub;
  beforeAll(async () => {
    strict = await startTestHub({ allowPrivateTargets: false, logLevel: "silent" });
  });
  afterAll(() => strict?.close());

  it.each(["http://127.0.0.1:PORT/hook", "http://localhost:PORT/hook", "http://[::1]:PORT/hook", "http://169.254.169.254/latest"])(
    "refuses %s at creation with 400 SB_WEBHOOK_TARGET_FORBIDDEN",
    async (target) => {
      const url = target.replace("PORT", String(receiver.port));
      const reply = await postJson(`${strict.url}/api/subscriptions`, { topic: "p.t", url });
      expect(reply.status, reply.text).toBe(400);
      expect(reply.body.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");

      const publisher = await postJson(`${strict.url}/api/publishers`, { active: true, topic: "p.t", target: url, type: "http" });
      expect(publisher.status, publisher.text).toBe(400);
      expect(publisher.body.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    },
  );
});
