import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { toHubError } from "../../src/api/build-app.js";
import { createPublishFastPath, type PublishFastPathOptions } from "../../src/api/publish-fast-path.js";
import type { PublishInput } from "../../src/api/routes/events.js";
import { HubError } from "../../src/errors.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";

/** One request, sent over a real socket (the lean path) and through `inject()` (always fastify). */
interface Case {
  name: string;
  url: string;
  body: string;
  headers?: Record<string, string>;
}

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | undefined>;
}

/** Only what may differ between two equal answers: generated ids and seqs. */
function normalised(text: string): unknown {
  const body = JSON.parse(text) as unknown;
  return JSON.parse(
    JSON.stringify(body, (key, value: unknown) => (key === "seq" && typeof value === "number" ? "<seq>" : value)).replace(/evt_[0-9A-Z]{26}/g, "<id>"),
  );
}

const COMPARED_HEADERS = ["content-type", "retry-after", "idempotent-replayed", "www-authenticate"];

/** A POST over a real socket (node:http: exact headers, Content-Length or chunked as asked). */
function post(
  origin: string,
  url: string,
  body: string,
  headers: Record<string, string> = {},
  chunked = false,
): Promise<{ status: number; text: string; headers: Record<string, string | undefined> }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(origin);
    // The path as given, not normalised by URL parsing (`/topics/../events` stays).
    const req = httpRequest(
      { hostname, port, path: url, method: "POST", headers: { ...headers, ...(chunked ? {} : { "content-length": String(Buffer.byteLength(body)) }) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, text, headers: res.headers as Record<string, string | undefined> }));
      },
    );
    req.on("error", reject);
    if (chunked) req.write(body.slice(0, 1));
    req.end(chunked ? body.slice(1) : body);
  });
}

/** In a case's body, stands for the arm (`sock` or `inje`): for ids that must not repeat between the two arms. */
const ARM = "@arm@";

/** Sends `c` over a socket (the lean path) and through `inject()` (fastify), and expects the same answer. */
async function expectSameAnswers(hub: TestHub, c: Omit<Case, "name">): Promise<Answer> {
  const lean = await post(hub.url, c.url, c.body.replaceAll(ARM, "sock"), c.headers);
  const injected = await hub.server.app.fastify.inject({ method: "POST", url: c.url, payload: c.body.replaceAll(ARM, "inje"), headers: c.headers });
  const answer = (status: number, text: string, headers: Record<string, unknown>): Answer => ({
    status,
    body: normalised(text.replace(/sock|inje/g, ARM)),
    headers: Object.fromEntries(COMPARED_HEADERS.map((h) => [h, headers[h] as string | undefined])),
  });
  const leanAnswer = answer(lean.status, lean.text, lean.headers);
  expect(leanAnswer).toEqual(answer(injected.statusCode, injected.body, injected.headers));
  return leanAnswer;
}

describe("the lean publish path answers as fastify does", () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub({ auth: "none", maxJsonDepth: 8 });
  });
  afterAll(() => hub.close());

  const json = { "content-type": "application/json" };
  const cases: Case[] = [
    { name: "raw data on default", url: "/api/events", body: '{"msg":"data","n":1}', headers: json },
    {
      name: "an envelope",
      url: "/api/events",
      body: JSON.stringify({ topic: "lean.env", type: "t", data: { a: [1, 2] }, attributes: { r: "eu" } }),
      headers: json,
    },
    {
      name: "a batch",
      url: "/api/events",
      body: JSON.stringify([
        { topic: "lean.b", data: 1 },
        { topic: "lean.b", data: 2 },
      ]),
      headers: json,
    },
    { name: "a topic's path", url: "/api/topics/lean.path/events", body: '{"x":1}', headers: { "content-type": "application/json; charset=utf-8" } },
    { name: "?topic= with raw data", url: "/api/events?topic=lean.query", body: '{"q":1}', headers: json },
    { name: "?topic= with an envelope", url: "/api/events?topic=lean.query", body: JSON.stringify({ topic: "lean.env2", data: 1 }), headers: json },
    { name: "?topic= naming an invalid topic", url: "/api/events?topic=..", body: '{"q":1}', headers: json },
    {
      name: "a CloudEvent, structured mode",
      url: "/api/events",
      body: JSON.stringify({ specversion: "1.0", id: `ce-lean-1-${ARM}`, source: "/lean", type: "lean.created", data: { a: 1 } }),
      headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
    },
    {
      name: "CloudEvents, batch mode",
      url: "/api/events",
      body: JSON.stringify([
        { specversion: "1.0", id: `ce-lean-2-${ARM}`, source: "/lean", type: "lean.created", data: 2 },
        { specversion: "1.0", id: `ce-lean-3-${ARM}`, source: "/lean", type: "lean.updated", data: 3 },
      ]),
      headers: { "content-type": "application/cloudevents-batch+json" },
    },
    {
      name: "a CloudEvent without specversion",
      url: "/api/events",
      body: JSON.stringify({ id: "ce-lean-4", source: "/lean", type: "lean.created" }),
      headers: { "content-type": "application/cloudevents+json" },
    },
    {
      name: "a CloudEvents batch that is no array",
      url: "/api/events",
      body: JSON.stringify({ specversion: "1.0", id: "ce-lean-5", source: "/lean", type: "lean.created" }),
      headers: { "content-type": "application/cloudevents-batch+json" },
    },
    { name: "a message", url: "/api/messages", body: JSON.stringify({ topic: "lean.msg", payload: { p: 1 } }), headers: json },
    { name: "a message that is no envelope", url: "/api/messages", body: '{"x":1}', headers: json },
    { name: "a leading BOM", url: "/api/events", body: '\ufeff{"bom":true}', headers: json },
    { name: "malformed JSON", url: "/api/events", body: '{"a":', headers: json },
    { name: "prototype poisoning", url: "/api/events", body: '{"__proto__":{"x":1}}', headers: json },
    { name: "prototype poisoning, escaped", url: "/api/events", body: '{"a":{"\\u005f_proto__":{"x":1}}}', headers: json },
    { name: "constructor.prototype", url: "/api/events", body: '[{"constructor":{"prototype":{"x":1}}}]', headers: json },
    { name: "__proto__ and constructor as values", url: "/api/events", body: '{"a":"__proto__","constructor":"x"}', headers: json },
    { name: "an escape in a string", url: "/api/events", body: '{"a":"caf\\u00e9 \\"q\\" [{"}', headers: json },
    { name: "brackets in a string past the depth limit", url: "/api/events", body: `{"a":"${"[".repeat(20)}"}`, headers: json },
    { name: "nesting over the depth limit", url: "/api/events", body: `${"[".repeat(9)}${"]".repeat(9)}`, headers: json },
    { name: "an invalid topic", url: "/api/events", body: JSON.stringify({ topic: "bad topic!", data: 1 }), headers: json },
    { name: "an Idempotency-Key too long", url: "/api/events", body: '{"a":1}', headers: { ...json, "idempotency-key": "k".repeat(1000) } },
    {
      name: "a traceparent",
      url: "/api/events",
      body: '{"a":1}',
      headers: { ...json, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    },
  ];

  for (const c of cases) it(c.name, () => expectSameAnswers(hub, c));

  it("a repeated Idempotency-Key and a repeated client id", async () => {
    const extras: Array<Record<string, string>> = [{ "idempotency-key": "lean-key" }, {}];
    for (const [i, extra] of extras.entries()) {
      const body = JSON.stringify({ id: `lean-id-${i}`, topic: "lean.repeat", data: 1 });
      const first = await post(hub.url, "/api/events", body, { ...json, ...extra });
      const again = await post(hub.url, "/api/events", body, { ...json, ...extra });
      const injected = await hub.server.app.fastify.inject({ method: "POST", url: "/api/events", payload: body, headers: { ...json, ...extra } });
      expect(first.status).toBe(201);
      expect([again.status, again.text, again.headers["idempotent-replayed"]]).toEqual([
        injected.statusCode,
        injected.body,
        injected.headers["idempotent-replayed"],
      ]);
      expect(again.text).toBe(first.text);
    }
  });

  it("counts its publishes in switchboard_ingest_requests_total by outcome", async () => {
    const counts = async () => {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      const value = (outcome: string) => Number(new RegExp(`^switchboard_ingest_requests_total\\{outcome="${outcome}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
      return { stored: value("stored"), rejected: value("rejected") };
    };
    const before = await counts();
    await post(hub.url, "/api/events", '{"a":1}', json);
    await post(hub.url, "/api/topics/lean.count/events", '{"a":2}', json);
    await post(hub.url, "/api/events", '{"a":3}', { ...json, "idempotency-key": "k".repeat(1000) });
    const after = await counts();
    expect({ stored: after.stored - before.stored, rejected: after.rejected - before.rejected }).toEqual({ stored: 2, rejected: 1 });
  });
});

describe("with auth on, the lean publish path answers as fastify does", () => {
  const SECRET = "a-lean-path-secret-of-enough-length-0123";
  let hub: TestHub;
  /** API keys by what they grant. */
  const keys: Record<"lean" | "other" | "path" | "query", string> = { lean: "", other: "", path: "", query: "" };
  const json = { "content-type": "application/json" };
  const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` });
  /** A JWT whose `sub` is its own, so that each case has its own rate-limit bucket. */
  const jwt = (sub: string, scope: string, secret = SECRET) =>
    new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("5m").sign(new TextEncoder().encode(secret));

  beforeAll(async () => {
    // Two publishes a second per credential: each case below sends two (one each way) with its own credential; the
    // rate-limited one, more.
    hub = await startTestHub({ jwtSecret: SECRET, rateLimitPublishPerS: 2 });
    const admin = await jwt("admin", "admin");
    for (const [name, scope] of [
      ["lean", "publish:lean.**"],
      ["other", "publish:other.*"],
      ["path", "publish:other.*"],
      ["query", "publish:other.*"],
    ] as const) {
      const created = await hub.server.app.fastify.inject({ method: "POST", url: "/api/keys", payload: { name, scopes: [scope] }, headers: bearer(admin) });
      expect(created.statusCode, created.body).toBe(201);
      keys[name] = (JSON.parse(created.body) as { token: string }).token;
    }
  });
  afterAll(() => hub.close());

  it("an API key within its scope", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: JSON.stringify({ topic: "lean.auth", data: 1 }), headers: bearer(keys.lean) });
    expect(answer.status).toBe(201);
  });
  it("an API key on a topic's path outside its scope", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/topics/lean.path/events", body: '{"a":1}', headers: bearer(keys.path) });
    expect(answer).toMatchObject({ status: 403, body: { details: "requires publish:lean.path" } });
  });
  it("an API key without the topic's scope", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: JSON.stringify({ topic: "lean.nope", data: 1 }), headers: bearer(keys.other) });
    expect(answer).toMatchObject({ status: 403, body: { code: "SB_AUTH_FORBIDDEN", details: "requires publish:lean.nope" } });
  });
  it("?topic= outside an API key's scope", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events?topic=lean.q", body: '{"a":1}', headers: bearer(keys.query) });
    expect(answer).toMatchObject({ status: 403, body: { details: "requires publish:lean.q" } });
  });
  it("no Authorization", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: '{"a":1}', headers: json });
    expect(answer).toMatchObject({ status: 401, body: { code: "SB_AUTH_REQUIRED" }, headers: { "www-authenticate": 'Bearer realm="switchboard"' } });
  });
  it("an Authorization of another scheme", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: '{"a":1}', headers: { ...json, authorization: "Basic dXNlcjpwYXNz" } });
    expect(answer.status).toBe(401);
  });
  it("an unknown API key", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: '{"a":1}', headers: bearer(`sbk_${"x".repeat(43)}`) });
    expect(answer).toMatchObject({
      status: 401,
      body: { code: "SB_AUTH_INVALID" },
      headers: { "www-authenticate": 'Bearer realm="switchboard", error="invalid_token"' },
    });
  });
  it("a JWT within its scope", async () => {
    const answer = await expectSameAnswers(hub, {
      url: "/api/messages",
      body: JSON.stringify({ topic: "lean.jwt", payload: 1 }),
      headers: bearer(await jwt("within", "publish:lean.*")),
    });
    expect(answer.status).toBe(201);
  });
  it("a JWT signed with another secret", async () => {
    const token = await jwt("forged", "publish:**", "another-secret-of-enough-length-0123456789");
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: '{"a":1}', headers: bearer(token) });
    expect(answer).toMatchObject({ status: 401, body: { code: "SB_AUTH_INVALID" } });
  });
  it("a valid credential with a body that is not JSON", async () => {
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: '{"a":', headers: bearer(await jwt("badbody", "publish:**")) });
    expect(answer).toMatchObject({ status: 400, body: { code: "SB_REQUEST_INVALID_JSON" } });
  });
  it("a credential over its publish rate, before its body is looked at", async () => {
    const headers = bearer(await jwt("hasty", "publish:**"));
    for (let i = 0; i < 2; i++) expect((await post(hub.url, "/api/events", '{"a":1}', headers)).status).toBe(201);
    const answer = await expectSameAnswers(hub, { url: "/api/events", body: '{"a":', headers });
    expect(answer).toMatchObject({ status: 429, body: { code: "SB_RATE_LIMITED" }, headers: { "retry-after": "1" } });
  });
  it("passes the credential's id as the publisher: fastify replays the event it stored for the same credential", async () => {
    // Repeats replay only within the publisher that stored the first (store/repeats.ts): stored without it, this
    // repeat would be refused as another's.
    const headers = bearer(await jwt("owner", "publish:lean.*"));
    const body = JSON.stringify({ id: "lean-owned-1", topic: "lean.owned", data: 1 });
    const lean = await post(hub.url, "/api/events", body, headers);
    expect(lean.status, lean.text).toBe(201);
    const again = await hub.server.app.fastify.inject({ method: "POST", url: "/api/events", payload: body, headers });
    expect([again.statusCode, again.headers["idempotent-replayed"], again.body]).toEqual([201, "true", lean.text]);
  });
});

describe("what the lean publish path takes, and what it leaves to fastify", () => {
  let server: Server;
  let origin: string;
  const published: PublishInput[] = [];
  const state = { open: true, cors: false, auth: false as boolean | undefined, authentications: 0, limited: "" };

  beforeAll(async () => {
    const options: PublishFastPathOptions = {
      basePath: "/api",
      bodyLimit: 64,
      maxJsonDepth: 8,
      log: pino({ level: "silent" }),
      open: () => state.open,
      authEnabled: () => state.auth,
      knownCredential: (token) => (token === "known" ? { id: "key_known", scopes: [] } : undefined),
      authenticate: async (token, setHeader) => {
        state.authentications++;
        if (token === "good") return { id: "key_good", scopes: [] };
        setHeader("www-authenticate", "Bearer");
        throw new HubError("SB_AUTH_INVALID", "unknown");
      },
      takePublish: (id, setHeader) => {
        if (id !== state.limited) return undefined;
        setHeader("retry-after", "1");
        return new HubError("SB_RATE_LIMITED", "limited");
      },
      get cors() {
        return state.cors;
      },
      genReqId: () => "req-1",
      draining: () => false,
      parseJson: (text, done) => done(null, JSON.parse(text)),
      publish: async (input) => {
        published.push(input);
        return { reply: { ok: true }, replayed: false };
      },
      toHubError,
    };
    const lean = createPublishFastPath(options);
    // What the lean path leaves is answered 599 here (fastify's, in the hub).
    server = createServer((req, res) => {
      if (!lean(req, res)) res.writeHead(599).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const json = { "content-type": "application/json" };
  const table: Array<[string, string, Record<string, string>, boolean]> = [
    ["/api/events", '{"a":1}', json, true],
    ["/api/messages", '{"a":1}', json, true],
    ["/api/topics/a.b-c_d/events", '{"a":1}', json, true],
    ["/api/events", '{"a":1}', { "content-type": "application/json; charset=utf-8" }, true],
    ["/api/events/", '{"a":1}', json, false],
    ["/api/events?topic=a", '{"a":1}', json, true],
    ["/api/events?topic=a&x=1", '{"a":1}', json, false],
    ["/api/events?topic=a%2Eb", '{"a":1}', json, false],
    ["/api/events?x=1", '{"a":1}', json, false],
    ["/api/messages?topic=a", '{"a":1}', json, false],
    ["/events", '{"a":1}', json, false],
    ["/api/topics/a%2Fb/events", '{"a":1}', json, false],
    ["/api/topics/../events", '{"a":1}', json, false],
    [`/api/topics/${"t".repeat(257)}/events`, '{"a":1}', json, false],
    ["/api/events", '{"a":1}', { "content-type": "text/plain" }, false],
    ["/api/events", '{"a":1}', { "content-type": "application/cloudevents+json" }, true],
    ["/api/events", "[]", { "content-type": "application/cloudevents-batch+json; charset=utf-8" }, true],
    ["/api/events", '{"a":1}', { "content-type": "application/cloudevents+jsonx" }, false],
    ["/api/events", '{"a":1}', { "content-type": "application/vnd.api+json" }, false],
    ["/api/events", '{"a":1}', { "content-type": "application/jsonx" }, false],
    ["/api/events", '{"a":1}', {}, false],
    ["/api/events", '{"a":1}', { ...json, "ce-specversion": "1.0" }, false],
    ["/api/events", "", json, false],
    ["/api/events", `{"a":"${"x".repeat(64)}"}`, json, false],
  ];
  for (const [url, body, headers, taken] of table) {
    it(`${taken ? "takes" : "leaves"} ${url.slice(0, 40)} ${JSON.stringify(headers)} with ${body.length} bytes`, async () => {
      const reply = await post(origin, url, body, headers);
      expect(reply.status).toBe(taken ? 201 : 599);
    });
  }

  it("leaves a chunked body, any request while it is not open, and an Origin when CORS is on", async () => {
    expect((await post(origin, "/api/events", '{"a":1}', json, true)).status).toBe(599);
    state.open = false;
    expect((await post(origin, "/api/events", '{"a":1}', json)).status).toBe(599);
    state.open = true;
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, origin: "https://a.example" })).status).toBe(201);
    state.cors = true;
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, origin: "https://a.example" })).status).toBe(599);
    state.cors = false;
  });

  it("with auth on, takes a bearer token, and leaves the console's header and auth not known to be on or off", async () => {
    published.length = 0;
    state.auth = true;
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, authorization: "Bearer good" })).status).toBe(201);
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, authorization: "Bearer bad" })).status).toBe(401);
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, "x-switchboard-console": "1", authorization: "Bearer good" })).status).toBe(599);
    state.auth = undefined;
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, authorization: "Bearer good" })).status).toBe(599);
    state.auth = false;
    expect(published.map((p) => [p.publisher, typeof p.requireScopes])).toEqual([["key_good", "function"]]);
  });

  it("with auth on, takes a key verified before without a promise, and still applies its rate limit", async () => {
    published.length = 0;
    state.auth = true;
    const before = state.authentications;
    expect((await post(origin, "/api/events", '{"a":1}', { ...json, authorization: "Bearer known" })).status).toBe(201);
    state.limited = "key_known";
    const limited = await post(origin, "/api/events", '{"a":2}', { ...json, authorization: "Bearer known" });
    expect([limited.status, limited.headers["retry-after"]]).toEqual([429, "1"]);
    state.limited = "";
    state.auth = false;
    expect(state.authentications).toBe(before);
    expect(published.map((p) => [p.publisher, p.body])).toEqual([["key_known", { a: 1 }]]);
  });

  it("hands the publisher the route, the body and its exact text", async () => {
    published.length = 0;
    await post(origin, "/api/topics/orders/events", '{ "a" : 1 }', json);
    await post(origin, "/api/messages", "\ufeff[1]", json);
    await post(origin, "/api/events?topic=orders.q", "{}", json);
    expect(published.map((p) => [p.route, p.body, p.rawBody])).toEqual([
      [{ topic: "orders", bodyIsData: true }, { a: 1 }, '{ "a" : 1 }'],
      [{ envelopeRequired: true }, [1], "[1]"],
      [{ topic: "orders.q" }, {}, "{}"],
    ]);
  });
});
