import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { createSubscription, FAST_RETRY, publish } from "../helpers/webhooks.js";

/** One message as a broker's own client read it back. */
export interface BrokerMessage {
  body: string;
  /** Header (or property) names lowercased. */
  headers: Record<string, string>;
}

/** A fresh place on the broker to publish to (a stream, a queue, a topic), read back with the broker's client. */
export interface BrokerSink {
  /** The subscription url for it, on the broker reached at `hostPort` (the real one, or a proxy in front). */
  url(hostPort: string): string;
  /** Every message it holds, in the broker's order. */
  messages(): Promise<BrokerMessage[]>;
  close(): Promise<void>;
}

/**
 * What a broker kind gives the shared suite. Each kind's integration test calls
 * `runDestinationConformance(harness)` and adds its own tests (what its confirmation looks like, its own failures).
 */
export interface BrokerHarness {
  /** Driver name, as `/ready` shows it. */
  kind: string;
  /** The url scheme (`nats`). */
  scheme: string;
  /** The real broker's port on 127.0.0.1. */
  port: number;
  createSink(): Promise<BrokerSink>;
  /** A url on `hostPort` that the broker cannot take messages for (no stream, unroutable), and its error. */
  unroutable(hostPort: string): { url: string; error: RegExp };
  /** Whether the broker drops a resend by its message id (JetStream does), so each event is stored exactly once. */
  dropsDuplicates: boolean;
  /** What a failed attempt says while the broker is cut off. */
  outageError: RegExp;
}

const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString("hex")}`;

/** Many short retries: a delivery stays alive through a few seconds of broker outage. */
const PATIENT_RETRY = { schedule: [0, ...Array.from({ length: 49 }, () => 0.2)] };

/**
 * The tests every broker kind passes, against its real server: each event once with its id and attributes; the
 * envelope body; the broker cut mid-stream and restored (everything arrives, in order by key, retries in the
 * attempt log, `/ready` showing the endpoint down); an unroutable target giving failed attempts, then dead; one
 * pooled connection per endpoint, closed when its subscriptions are deleted.
 */
export function runDestinationConformance(harness: BrokerHarness): void {
  describe(`${harness.kind} destination: conformance`, () => {
    let hub: TestHub;
    const sinks: BrokerSink[] = [];
    const proxies: TcpProxy[] = [];
    const direct = `127.0.0.1:${harness.port}`;

    beforeAll(async () => {
      hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
    });
    afterEach(async () => {
      for (const s of sinks.splice(0)) await s.close();
      for (const p of proxies.splice(0)) await p.close();
    });
    afterAll(() => hub?.close());

    const sink = async () => {
      const s = await harness.createSink();
      sinks.push(s);
      return s;
    };
    const proxy = async () => {
      const p = await startTcpProxy(harness.port);
      proxies.push(p);
      return p;
    };
    const waitForMessages = (s: BrokerSink, count: number, timeoutMs = 15_000) =>
      eventually(
        `${count} messages`,
        async () => {
          const all = await s.messages();
          return all.length >= count ? all : undefined;
        },
        timeoutMs,
      );
    const deliveriesOf = async (subscriptionId: string): Promise<any[]> => {
      const reply = await request(`${hub.url}/api/deliveries?subscription=${subscriptionId}&limit=1000`);
      expect(reply.status).toBe(200);
      return reply.body.data;
    };
    const allDelivered = (subscriptionId: string, count: number) =>
      eventually(
        "every delivery delivered",
        async () => {
          const list = await deliveriesOf(subscriptionId);
          return list.length === count && list.every((d) => d.status === "delivered") ? list : undefined;
        },
        20_000,
      );
    const endpointHealth = async (endpoint: string) => ((await request(`${hub.url}/ready`)).body.destinations ?? []).find((d: any) => d.endpoint === endpoint);

    it("publishes every event once, with its ids, CloudEvents headers, attributes and traceparent", async () => {
      const s = await sink();
      const topic = uniqueName(`${harness.kind}.once`);
      const sub = await createSubscription(hub.url, { topic, url: s.url(direct), retry: FAST_RETRY });
      const trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const events = Array.from({ length: 30 }, (_, i) => ({
        topic,
        type: "order.created",
        subject: `order-${i}`,
        data: { i },
        attributes: i === 0 ? { region: "eu", traceparent: trace } : { region: "eu" },
      }));
      const published = await publish(hub.url, events);
      const deliveries = await allDelivered(sub.id, 30);
      const messages = await waitForMessages(s, 30);
      expect(messages).toHaveLength(30);
      expect(messages.map((m) => m.headers["ce-id"]).sort()).toEqual(published.map((p) => p.id).sort());
      const deliveryByEvent = new Map(deliveries.map((d) => [d.event_id, d.id]));
      for (const m of messages) {
        const i = (JSON.parse(m.body) as { i: number }).i;
        const eventId = published[i]!.id;
        expect(m.headers).toMatchObject({
          "ce-id": eventId,
          "webhook-id": deliveryByEvent.get(eventId),
          "ce-type": "order.created",
          "ce-subject": `order-${i}`,
          "ce-specversion": "1.0",
          "ce-source": `/switchboard/topics/${topic}`,
          "ce-region": "eu",
          "content-type": "application/json",
        });
        expect(m.headers["ce-time"]).toMatch(/^\d{4}-\d\d-\d\dT/);
        if (i === 0) expect(m.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
        else expect(m.headers.traceparent).toBeUndefined();
      }
    });

    it('sends the envelope with body "envelope"', async () => {
      const s = await sink();
      const topic = uniqueName(`${harness.kind}.envelope`);
      await createSubscription(hub.url, { topic, url: s.url(direct), body: "envelope" });
      const [event] = await publish(hub.url, { topic, key: "k1", data: { a: 1 } });
      const [m] = await waitForMessages(s, 1);
      expect(JSON.parse(m!.body)).toMatchObject({ id: event!.id, topic, key: "k1", data: { a: 1 } });
    });

    it("the broker down mid-stream: every event arrives, in order by key, the retries recorded", async () => {
      const s = await sink();
      const p = await proxy();
      const endpoint = `${harness.scheme}://127.0.0.1:${p.port}`;
      const topic = uniqueName(`${harness.kind}.outage`);
      const sub = await createSubscription(hub.url, { topic, url: s.url(`127.0.0.1:${p.port}`), ordering: "key", max_in_flight: 8, retry: PATIENT_RETRY });
      const batch = (from: number) =>
        Array.from({ length: 20 }, (_, k) => ({ topic, key: `k${(from + k) % 3}`, data: { n: from + k, key: `k${(from + k) % 3}` } }));
      await publish(hub.url, batch(0));
      await waitForMessages(s, 20);

      await p.cut();
      await publish(hub.url, batch(20));
      await eventually("failed attempts", async () => ((await deliveriesOf(sub.id)).some((d) => d.status === "retrying") ? true : undefined));
      const down = await endpointHealth(endpoint);
      expect(down, endpoint).toMatchObject({ kind: harness.kind, subscriptions: 1 });
      // Between two reconnect attempts, or during one: either way the last error is shown.
      expect(["disconnected", "connecting"]).toContain(down.state);
      expect(down.error).toEqual(expect.any(String));
      expect(down.error).not.toBe("");

      await p.restore();
      await allDelivered(sub.id, 40);
      const bodies = (await s.messages()).map((m) => JSON.parse(m.body) as { n: number; key: string });
      expect(new Set(bodies.map((b) => b.n))).toEqual(new Set(Array.from({ length: 40 }, (_, n) => n)));
      if (harness.dropsDuplicates) expect(bodies).toHaveLength(40);
      for (const key of ["k0", "k1", "k2"]) {
        const ofKey = bodies.filter((b) => b.key === key).map((b) => b.n);
        // In order by key; a resend (at least once) may repeat the last one, never go back past it.
        const firsts = ofKey.filter((n, i) => ofKey.indexOf(n) === i);
        expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
      }
      const retried = (await deliveriesOf(sub.id)).filter((d) => d.attempt_count > 1);
      expect(retried.length).toBeGreaterThan(0);
      const detail = await request(`${hub.url}/api/deliveries/${retried[0].id}`);
      const failed = detail.body.attempts.filter((a: any) => a.error !== null);
      expect(failed.length).toBeGreaterThan(0);
      for (const a of failed) expect(a.error).toMatch(harness.outageError);
      expect(detail.body.attempts.at(-1).error).toBeNull();
      expect((await endpointHealth(endpoint)).state).toBe("connected");
    });

    it("an unroutable target: failed attempts with a clear error, then dead", async () => {
      const topic = uniqueName(`${harness.kind}.unroutable`);
      const { url, error } = harness.unroutable(direct);
      const sub = await createSubscription(hub.url, { topic, url, retry: FAST_RETRY });
      await publish(hub.url, { topic, data: { x: 1 } });
      const [dead] = await eventually("a dead delivery", async () => {
        const list = await deliveriesOf(sub.id);
        return list.length === 1 && list[0].status === "dead" ? list : undefined;
      });
      expect(dead.attempt_count).toBe(3);
      const detail = await request(`${hub.url}/api/deliveries/${dead.id}`);
      expect(detail.body.attempts).toHaveLength(3);
      for (const a of detail.body.attempts) expect(a.error).toMatch(error);
    });

    it("two subscriptions on one endpoint share one connection, closed once both are deleted", async () => {
      const [a, b] = [await sink(), await sink()];
      // A port of its own (a proxy), so that no other test's subscription shares the endpoint.
      const p = await proxy();
      const endpoint = `${harness.scheme}://127.0.0.1:${p.port}`;
      const topic = uniqueName(`${harness.kind}.pool`);
      const subA = await createSubscription(hub.url, { topic, url: a.url(`127.0.0.1:${p.port}`) });
      const subB = await createSubscription(hub.url, { topic, url: b.url(`127.0.0.1:${p.port}`) });
      await publish(hub.url, { topic, data: { both: true } });
      await waitForMessages(a, 1);
      await waitForMessages(b, 1);
      expect(p.accepted).toBe(1);
      expect(await endpointHealth(endpoint)).toEqual({ kind: harness.kind, endpoint, state: "connected", subscriptions: 2, error: null });

      expect((await request(`${hub.url}/api/subscriptions/${subA.id}`, { method: "DELETE" })).status).toBe(204);
      expect(await endpointHealth(endpoint)).toMatchObject({ subscriptions: 1 });
      expect((await request(`${hub.url}/api/subscriptions/${subB.id}`, { method: "DELETE" })).status).toBe(204);
      expect(await endpointHealth(endpoint)).toBeUndefined();
      await eventually("the connection closed", () => (p.openConnections === 0 ? true : undefined));
      expect(p.accepted).toBe(1);
    });
  });
}
