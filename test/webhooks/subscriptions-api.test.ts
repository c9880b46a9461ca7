import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
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
    const later = await postJson(`${api}/publishers`, { active: true, topic: "po.history", target: `${receiver.url}?from_now=false`, type: "http", from_now: false });
    expect(later.status, later.text).toBe(201);
    const fresh = await postJson(`${api}/publishers`, { active: true, topic: "po.history", target: `${receiver.url}?from_now=true`, type: "http", from_now: true });
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
