import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { DestinationRouter } from "../../src/delivery/destinations/index.js";
import { createWebhookClient } from "../../src/delivery/webhooks/send-webhook.js";
import type { StoredEvent } from "../../src/store/store.js";
import { eventually } from "../helpers/hub.js";
import { createTestStream, NATS_PORT, uniqueName, type TestStream } from "../helpers/nats.js";
import { subscription } from "../helpers/subscription-fixture.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

/** A router whose log lines are kept. */
function router(allowPrivate = true): { router: DestinationRouter; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const webhookClient = createWebhookClient({ allowPrivate });
  const r = new DestinationRouter({
    webhookClient,
    userAgent: "test",
    allowPrivate,
    log: pino({ level: "info" }, sink),
    backoff: { minBackoffMs: 20, maxBackoffMs: 100 },
  });
  opened.push(webhookClient, r);
  return { router: r, lines };
}

const event: StoredEvent = {
  id: "evt_1",
  seq: 1,
  topic: "t",
  type: null,
  source: null,
  subject: null,
  time: 0,
  key: null,
  dataJson: '{"a":1}',
  attributes: {},
  receivedAt: 0,
} as StoredEvent;

describe("DestinationRouter", () => {
  it("warns when a subscription starts on a subject no stream covers", async () => {
    const { router: r, lines } = router();
    const sub = subscription(`nats://127.0.0.1:${NATS_PORT}/sbtest.${uniqueName("nostream")}`);
    r.open(sub);
    const line = await eventually("the warning", () => lines.find((l) => l.msg === "destination check"));
    expect(line).toMatchObject({ level: 40, subscriptionId: sub.id, kind: "nats", endpoint: `nats://127.0.0.1:${NATS_PORT}` });
    expect(String(line.warning)).toMatch(/^no JetStream stream covers subject sbtest\.nostream_/);
  });

  it("no warning when a stream covers the subject", async () => {
    const s: TestStream = await createTestStream();
    opened.push(s);
    const { router: r, lines } = router();
    r.open(subscription(`nats://127.0.0.1:${NATS_PORT}/${s.subject}`));
    await eventually("connected", () => (r.health()[0]?.state === "connected" ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines.filter((l) => l.msg === "destination check")).toEqual([]);
  });

  it("a broker nobody listens on: failed attempts naming it, reconnects with backoff, no throw", async () => {
    const proxy: TcpProxy = await startTcpProxy(NATS_PORT);
    await proxy.cut();
    opened.push(proxy);
    const { router: r, lines } = router();
    const sub = subscription(`nats://app:s3cret@127.0.0.1:${proxy.port}/sbtest.down`);
    r.open(sub);
    const outcome = await r.send({ subscription: sub, deliveryId: "dlv_1", event, attemptedAt: 0, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, status: null, gone: false });
    expect(outcome.error).toBe(`nats://127.0.0.1:${proxy.port} is not connected: CONNECTION_REFUSED: connect ECONNREFUSED 127.0.0.1:${proxy.port}`);
    expect(r.health()).toEqual([
      { kind: "nats", endpoint: `nats://127.0.0.1:${proxy.port}`, state: "disconnected", subscriptions: 1, error: expect.any(String) },
    ]);
    // The pool keeps trying, and finds the broker once it is back.
    await eventually("several connect attempts", () => (lines.filter((l) => l.msg === "broker unavailable").length >= 3 ? true : undefined));
    await proxy.restore();
    await eventually("connected", () => (r.health()[0]?.state === "connected" ? true : undefined));
    // Credentials never reach the log.
    expect(JSON.stringify(lines)).not.toContain("s3cret");
    r.release(sub.id);
    expect(r.connections).toBe(0);
  });

  it("a send for a subscription not opened here (the retry sweeper's) holds the endpoint for that send only", async () => {
    const s: TestStream = await createTestStream();
    opened.push(s);
    const { router: r } = router();
    const sub = subscription(`nats://127.0.0.1:${NATS_PORT}/${s.subject}`);
    const sends = [1, 2].map((n) => r.send({ subscription: sub, deliveryId: `dlv_${n}`, event, attemptedAt: 0, attempt: 1 }));
    expect(r.connections).toBe(1);
    const outcomes = await Promise.all(sends);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(r.connections).toBe(0);
    expect(await s.messages()).toHaveLength(2);
  });

  it("the target guard applies to broker hosts", async () => {
    const { router: r } = router(false);
    const outcome = await r.send({
      subscription: subscription(`nats://127.0.0.1:${NATS_PORT}/sbtest.x`),
      deliveryId: "dlv_1",
      event,
      attemptedAt: 0,
      attempt: 1,
    });
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toBe(`nats://127.0.0.1:${NATS_PORT} is not connected: ESWITCHBOARD_PRIVATE_TARGET private address 127.0.0.1 refused`);
  });

  it("a subscription whose url changes moves to the new endpoint and lets go of the old one", async () => {
    const proxy = await startTcpProxy(NATS_PORT);
    opened.push(proxy);
    const { router: r } = router();
    const sub = subscription(`nats://127.0.0.1:${NATS_PORT}/sbtest.a`);
    r.open(sub);
    r.open({ ...sub, url: `nats://127.0.0.1:${proxy.port}/sbtest.a` });
    expect(r.health().map((h) => h.endpoint)).toEqual([`nats://127.0.0.1:${proxy.port}`]);
    await eventually("connected", () => (r.health()[0]?.state === "connected" ? true : undefined));
    await r.close();
    await eventually("closed", () => (proxy.openConnections === 0 ? true : undefined));
  });
});
