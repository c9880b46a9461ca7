import type { JsMsg } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { createTestStream, NATS_PORT, uniqueName, type TestStream } from "../helpers/nats.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { createSubscription, FAST_RETRY, publish } from "../helpers/webhooks.js";

let hub: TestHub;
const streams: TestStream[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
});
afterEach(async () => {
  for (const s of streams.splice(0)) await s.close();
  for (const p of proxies.splice(0)) await p.close();
});
afterAll(() => hub?.close());

/** Many short retries: a delivery stays alive through a few seconds of broker outage. */
const PATIENT_RETRY = { schedule: [0, ...Array.from({ length: 49 }, () => 0.2)] };

async function stream(): Promise<TestStream> {
  const s = await createTestStream();
  streams.push(s);
  return s;
}

const text = (m: JsMsg) => new TextDecoder().decode(m.data);
const header = (m: JsMsg, name: string) => m.headers?.get(name) ?? "";

async function waitForMessages(s: TestStream, count: number, timeoutMs = 15_000): Promise<JsMsg[]> {
  return eventually(`${count} messages in ${s.name}`, async () => {
    const all = await s.messages();
    return all.length >= count ? all : undefined;
  }, timeoutMs);
}

async function deliveriesOf(subscriptionId: string): Promise<any[]> {
  const reply = await request(`${hub.url}/api/deliveries?subscription=${subscriptionId}&limit=1000`);
  expect(reply.status).toBe(200);
  return reply.body.data;
}

async function deleteSubscription(id: string): Promise<void> {
  expect((await request(`${hub.url}/api/subscriptions/${id}`, { method: "DELETE" })).status).toBe(204);
}

describe("NATS JetStream destination", () => {
  it("publishes every event once, with its id, CloudEvents headers, attributes and traceparent", async () => {
    const s = await stream();
    const topic = uniqueName("nats.once");
    const sub = await createSubscription(hub.url, { topic, url: `nats://127.0.0.1:${NATS_PORT}/${s.subject}`, retry: FAST_RETRY });
    const trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const events = Array.from({ length: 30 }, (_, i) => ({
      topic,
      type: "order.created",
      subject: `order-${i}`,
      data: { i },
      attributes: i === 0 ? { region: "eu", traceparent: trace } : { region: "eu" },
    }));
    const published = await publish(hub.url, events);

    const messages = await waitForMessages(s, 30);
    await new Promise((r) => setTimeout(r, 300)); // nothing more arrives
    const all = await s.messages();
    expect(all).toHaveLength(30);
    expect(all.map((m) => header(m, "ce-id")).sort()).toEqual(published.map((p) => p.id).sort());

    const deliveries = await eventually("every delivery delivered", async () => {
      const list = await deliveriesOf(sub.id);
      return list.length === 30 && list.every((d) => d.status === "delivered") ? list : undefined;
    });
    const deliveryByEvent = new Map(deliveries.map((d) => [d.event_id, d.id]));
    for (const m of messages) {
      const i = (JSON.parse(text(m)) as { i: number }).i;
      const eventId = published[i]!.id;
      expect(header(m, "ce-id")).toBe(eventId);
      expect(header(m, "Nats-Msg-Id")).toBe(deliveryByEvent.get(eventId));
      expect(header(m, "webhook-id")).toBe(deliveryByEvent.get(eventId));
      expect(header(m, "ce-type")).toBe("order.created");
      expect(header(m, "ce-subject")).toBe(`order-${i}`);
      expect(header(m, "ce-specversion")).toBe("1.0");
      expect(header(m, "ce-source")).toBe(`/switchboard/topics/${topic}`);
      expect(header(m, "ce-time")).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(header(m, "ce-region")).toBe("eu");
      expect(header(m, "content-type")).toBe("application/json");
      if (i === 0) expect(header(m, "traceparent")).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
      else expect(header(m, "traceparent")).toBe("");
    }
    const detail = await request(`${hub.url}/api/deliveries/${deliveries[0].id}`);
    expect(JSON.parse(detail.body.attempts[0].response_excerpt)).toMatchObject({ stream: s.name, duplicate: false });
  });

  it('sends the envelope with body "envelope"', async () => {
    const s = await stream();
    const topic = uniqueName("nats.envelope");
    await createSubscription(hub.url, { topic, url: `nats://127.0.0.1:${NATS_PORT}/${s.subject}`, body: "envelope" });
    const [event] = await publish(hub.url, { topic, key: "k1", data: { a: 1 } });
    const [m] = await waitForMessages(s, 1);
    expect(JSON.parse(text(m!))).toMatchObject({ id: event!.id, topic, key: "k1", data: { a: 1 } });
  });

  it("a broker down mid-stream: every event arrives once, in order by key, the retries recorded", async () => {
    const s = await stream();
    const proxy = await startTcpProxy(NATS_PORT);
    proxies.push(proxy);
    const topic = uniqueName("nats.outage");
    const url = `nats://127.0.0.1:${proxy.port}/${s.subject}`;
    const sub = await createSubscription(hub.url, { topic, url, ordering: "key", max_in_flight: 8, retry: PATIENT_RETRY });
    const batch = (from: number) => Array.from({ length: 20 }, (_, k) => ({ topic, key: `k${(from + k) % 3}`, data: { n: from + k, key: `k${(from + k) % 3}` } }));
    await publish(hub.url, batch(0));
    await waitForMessages(s, 20);

    await proxy.cut();
    await publish(hub.url, batch(20));
    // The attempts fail while the broker is away, and /ready says why.
    await eventually("failed attempts", async () => ((await deliveriesOf(sub.id)).some((d) => d.status === "retrying") ? true : undefined));
    const ready = await request(`${hub.url}/ready`);
    expect(ready.status).toBe(200);
    const endpoint = ready.body.destinations.find((d: any) => d.endpoint === `nats://127.0.0.1:${proxy.port}`);
    expect(endpoint, JSON.stringify(ready.body)).toMatchObject({ kind: "nats", subscriptions: 1 });
    // Between two reconnect attempts, or during one: either way the last error is shown.
    expect(["disconnected", "connecting"]).toContain(endpoint.state);
    expect(endpoint.error).toMatch(/CONNECTION_REFUSED|disconnected from|connection closed/);

    await proxy.restore();
    const all = await waitForMessages(s, 40, 20_000);
    await eventually("every delivery delivered", async () => {
      const list = await deliveriesOf(sub.id);
      return list.length === 40 && list.every((d) => d.status === "delivered") ? true : undefined;
    }, 20_000);
    const final = await s.messages();
    const ns = final.map((m) => (JSON.parse(text(m)) as { n: number }).n);
    expect(ns.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(all.length).toBe(40);
    // Per key, the stream holds the events in the order they were published.
    for (const key of ["k0", "k1", "k2"]) {
      const ofKey = final.map((m) => JSON.parse(text(m)) as { n: number; key: string }).filter((b) => b.key === key).map((b) => b.n);
      expect(ofKey).toEqual([...ofKey].sort((a, b) => a - b));
    }
    // The retries are in the attempt log, with the broker's error.
    const retried = (await deliveriesOf(sub.id)).filter((d) => d.attempt_count > 1);
    expect(retried.length).toBeGreaterThan(0);
    const detail = await request(`${hub.url}/api/deliveries/${retried[0].id}`);
    const failed = detail.body.attempts.filter((a: any) => a.error !== null);
    expect(failed.length).toBeGreaterThan(0);
    for (const a of failed) {
      expect(a.error).toMatch(/^(nats:\/\/127\.0\.0\.1:\d+ is not connected: (disconnected from |connection closed|CONNECTION_REFUSED: )|JetStream publish to subject \S+ failed: |timeout after \d+ ms waiting for the JetStream PubAck)/);
    }
    expect(detail.body.attempts.at(-1).error).toBeNull();
    expect((await request(`${hub.url}/ready`)).body.destinations.find((d: any) => d.endpoint === `nats://127.0.0.1:${proxy.port}`).state).toBe(
      "connected",
    );
  });

  it("no stream covers the subject: failed attempts saying so, then dead", async () => {
    const topic = uniqueName("nats.nostream");
    const sub = await createSubscription(hub.url, { topic, url: `nats://127.0.0.1:${NATS_PORT}/sbtest.${uniqueName("none")}`, retry: FAST_RETRY });
    await publish(hub.url, { topic, data: { x: 1 } });
    const [dead] = await eventually("a dead delivery", async () => {
      const list = await deliveriesOf(sub.id);
      return list.length === 1 && list[0].status === "dead" ? list : undefined;
    });
    expect(dead.attempt_count).toBe(3);
    expect(dead.last_error).toMatch(/^no JetStream stream covers subject sbtest\.none_[0-9a-f]+ \(no responders\)$/);
    const detail = await request(`${hub.url}/api/deliveries/${dead.id}`);
    expect(detail.body.attempts).toHaveLength(3);
    for (const a of detail.body.attempts) expect(a.error).toMatch(/no JetStream stream covers/);
  });

  it("two subscriptions on one endpoint share one connection, closed once both are deleted", async () => {
    const a = await stream();
    const b = await stream();
    // A port of its own (a proxy), so that no other test's subscription shares the endpoint.
    const proxy = await startTcpProxy(NATS_PORT);
    proxies.push(proxy);
    const endpoint = `nats://127.0.0.1:${proxy.port}`;
    const topic = uniqueName("nats.pool");
    const subA = await createSubscription(hub.url, { topic, url: `${endpoint}/${a.subject}` });
    const subB = await createSubscription(hub.url, { topic, url: `${endpoint}/${b.subject}` });
    await publish(hub.url, { topic, data: { both: true } });
    await waitForMessages(a, 1);
    await waitForMessages(b, 1);
    expect(proxy.accepted).toBe(1);
    const health = (await request(`${hub.url}/ready`)).body.destinations.filter((d: any) => d.endpoint === endpoint);
    expect(health).toEqual([{ kind: "nats", endpoint, state: "connected", subscriptions: 2, error: null }]);

    await deleteSubscription(subA.id);
    expect((await request(`${hub.url}/ready`)).body.destinations.find((d: any) => d.endpoint === endpoint)).toMatchObject({ subscriptions: 1 });
    await deleteSubscription(subB.id);
    const after = (await request(`${hub.url}/ready`)).body.destinations ?? [];
    expect(after.find((d: any) => d.endpoint === endpoint)).toBeUndefined();
    // The proxy sees the connection go.
    await eventually("the connection closed", () => (proxy.openConnections === 0 ? true : undefined));
    expect(proxy.accepted).toBe(1);
  });

  it("masks credentials in every GET and refuses the masked form back", async () => {
    const s = await stream();
    const topic = uniqueName("nats.creds");
    const created = await createSubscription(hub.url, { topic, url: `nats://app:s3cret@127.0.0.1:${NATS_PORT}/${s.subject}` });
    const masked = `nats://app:****@127.0.0.1:${NATS_PORT}/${s.subject}`;
    expect((await request(`${hub.url}/api/subscriptions/${created.id}`)).body.url).toBe(masked);
    const list = await request(`${hub.url}/api/subscriptions`);
    expect(list.body.data.find((x: any) => x.id === created.id).url).toBe(masked);
    expect(list.text).not.toContain("s3cret");
    const put = await request(`${hub.url}/api/subscriptions/${created.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: masked }),
    });
    expect(put.status).toBe(400);
    expect(put.body.code).toBe("SB_SUBSCRIPTION_INVALID");
    await deleteSubscription(created.id);
  });

  it("refuses malformed nats urls and unknown schemes with a clear 400", async () => {
    const cases: Array<[string, RegExp]> = [
      [`nats://127.0.0.1:${NATS_PORT}/`, /needs a subject/],
      [`nats://127.0.0.1:${NATS_PORT}/orders.*`, /no wildcards/],
      [`nats://127.0.0.1:${NATS_PORT}/orders?x=1`, /no query/],
      ["kafka://broker:9092/orders", /scheme "kafka" is not supported; supported: http, https, nats, nats\+tls/],
    ];
    for (const [url, message] of cases) {
      const reply = await request(`${hub.url}/api/subscriptions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ topic: "x", url }),
      });
      expect(reply.status, url).toBe(400);
      expect(reply.body.code).toBe("SB_SUBSCRIPTION_INVALID");
      expect(reply.body.details).toMatch(message);
    }
  });
});
