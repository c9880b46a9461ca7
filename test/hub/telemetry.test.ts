/**
 * OpenTelemetry with an SDK installed (in-memory exporters): the span tree of POST → webhook on a real receiver and of
 * POST → in-process handler, an incoming `traceparent` as its root, and the OTel metrics beside Prometheus.
 */
import { context, metrics, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, getJson } from "../helpers/webhooks.js";

/** A reader the test collects from when it likes. */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const reader = new TestReader();
const INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_SPAN = "00f067aa0ba902b7";

describe("OpenTelemetry", () => {
  let hub: TestHub;
  let receiver: Receiver;

  beforeAll(async () => {
    // Installed before the hub: its meter takes the provider present when it is created.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    receiver = await startReceiver();
    hub = await startTestHub({ allowPrivateTargets: true });
    await createSubscription(hub.url, { topic: "orders.*", url: receiver.url });
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await hub.close();
    await receiver.close();
    trace.disable();
    metrics.disable();
    context.disable();
  });

  const spansNamed = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
  const childOf = (span: ReadableSpan, parent: { traceId: string; spanId: string }) => {
    expect(span.spanContext().traceId).toBe(parent.traceId);
    expect(span.parentSpanContext?.spanId).toBe(parent.spanId);
  };

  /** Publishes one event over HTTP and waits for its webhook; returns the spans and what the receiver got. */
  async function publishAndDeliver(headers: Record<string, string>) {
    const before = receiver.requests.length;
    const reply = await postJson(`${hub.url}/api/events`, { topic: "orders.created", data: { total: 120 } }, headers);
    expect(reply.status).toBe(201);
    const [delivered] = await receiver.waitFor(before + 1).then((all) => all.slice(before));
    const deliver = await eventually("the attempt span", () => spansNamed("switchboard.deliver.http")[0]);
    const [publish] = spansNamed("switchboard.publish");
    const [commit] = spansNamed("switchboard.commit");
    const event = await getJson(`${hub.url}/api/events/${reply.body.id as string}`);
    return { publish: publish!, commit: commit!, deliver, delivered: delivered!, event };
  }

  it("makes an incoming traceparent the root: POST → publish → commit, and the webhook attempt under the event's context", async () => {
    const { publish, commit, deliver, delivered, event } = await publishAndDeliver({ traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01` });
    childOf(publish, { traceId: INCOMING_TRACE, spanId: INCOMING_SPAN });
    expect(publish.attributes).toMatchObject({ "messaging.destination.name": "orders.created", "switchboard.transport": "http" });
    childOf(commit, publish.spanContext());
    expect(commit.links.map((l) => l.context.spanId)).toEqual([publish.spanContext().spanId]);
    // The event stores the publish span's context; the attempt is its child, and the receiver continues the attempt.
    const publishParent = `00-${INCOMING_TRACE}-${publish.spanContext().spanId}-01`;
    expect(event.attributes.traceparent).toBe(publishParent);
    childOf(deliver, publish.spanContext());
    expect(deliver.attributes).toMatchObject({
      "switchboard.destination.kind": "http",
      "switchboard.delivery.outcome": "delivered",
      "http.response.status_code": 200,
    });
    expect(delivered.headers["traceparent"]).toBe(`00-${INCOMING_TRACE}-${deliver.spanContext().spanId}-01`);
  });

  it("starts a new trace at the publish span when the request has none", async () => {
    const { publish, commit, deliver } = await publishAndDeliver({});
    expect(publish.parentSpanContext).toBeUndefined();
    expect(publish.spanContext().traceId).not.toBe(INCOMING_TRACE);
    childOf(commit, publish.spanContext());
    childOf(deliver, publish.spanContext());
  });

  it("carries the application's active span through the outbox: the relay's publish and the attempt continue it", async () => {
    const db = new Database(join(hub.dir, "hub.db"));
    try {
      const app = trace.getTracer("app").startSpan("place order");
      const ctx = trace.setSpan(context.active(), app);
      const before = receiver.requests.length;
      const receipt = context.with(ctx, () => db.transaction(() => hub.server.hub.outbox.publish(db, { topic: "orders.created", data: { total: 5 } }))());
      app.end();
      await receiver.waitFor(before + 1);
      const deliver = await eventually("the attempt span", () => spansNamed("switchboard.deliver.http")[0]);
      const [publish] = spansNamed("switchboard.publish");
      childOf(publish!, app.spanContext());
      expect(publish!.attributes["switchboard.transport"]).toBe("outbox");
      // The event's context is the application's span, stamped when the row was written.
      expect((await getJson(`${hub.url}/api/events/${receipt.id}`)).attributes.traceparent).toBe(
        `00-${app.spanContext().traceId}-${app.spanContext().spanId}-01`,
      );
      childOf(deliver, app.spanContext());
    } finally {
      db.close();
    }
  });

  /**
   * Registers an in-process handler on `topic` that opens its own span through `@opentelemetry/api` on each run (and
   * throws on the runs `failing` names, after ending that span), then POSTs one event with an incoming `traceparent`.
   * Returns the event's spans once `runs` attempts have ended, the attempt and application spans in attempt order.
   */
  async function publishToHandler(name: string, topic: string, failing: (attempt: number) => boolean, runs: number) {
    const registration = hub.server.hub.handle(
      topic,
      (_event, ctx) =>
        trace.getTracer("app").startActiveSpan("send receipt", (span) => {
          span.setAttribute("app.attempt", ctx.attempt);
          span.end();
          if (failing(ctx.attempt)) throw new Error(`mail server down (run ${ctx.attempt})`);
        }),
      { name, backoff: [0], maxErrors: 3 },
    );
    await hub.server.hub.start();
    await registration.ready;
    const reply = await postJson(`${hub.url}/api/events`, { topic, data: { total: 120 } }, { traceparent: `00-${INCOMING_TRACE}-${INCOMING_SPAN}-01` });
    expect(reply.status).toBe(201);
    const eventId = reply.body.id as string;
    const ofEvent = (s: ReadableSpan) => s.attributes["messaging.message.id"] === eventId;
    // Attempt spans end in order: a retry is only claimed once the failed attempt was recorded.
    const attempts = await eventually(`${runs} attempt spans`, () => {
      const found = spansNamed("switchboard.deliver.function").filter(ofEvent);
      return found.length === runs ? found : undefined;
    });
    const byAttempt = (s: ReadableSpan) => Number(s.attributes["app.attempt"]);
    const app = spansNamed("send receipt").sort((a, b) => byAttempt(a) - byAttempt(b));
    const [publish] = spansNamed("switchboard.publish");
    const [commit] = spansNamed("switchboard.commit");
    return { publish: publish!, commit: commit!, attempts, app };
  }

  it("runs an in-process handler inside its attempt span: POST → publish → commit, the attempt under the event's context, the handler's span under the attempt", async () => {
    const { publish, commit, attempts, app } = await publishToHandler("traced-receipt", "invoices.created", () => false, 1);
    childOf(publish, { traceId: INCOMING_TRACE, spanId: INCOMING_SPAN });
    childOf(commit, publish.spanContext());
    const [deliver] = attempts;
    childOf(deliver!, publish.spanContext());
    expect(deliver!.attributes).toMatchObject({
      "messaging.destination.name": "invoices.created",
      "switchboard.destination.kind": "function",
      "switchboard.delivery.outcome": "delivered",
    });
    expect(deliver!.status.code).toBe(SpanStatusCode.UNSET);
    // The handler's own span continues the attempt: the attempt span was the active one while it ran.
    expect(app).toHaveLength(1);
    childOf(app[0]!, deliver!.spanContext());
  });

  it("gives a handler that fails once and then passes two attempt spans, the first with error status, each the parent of its run's span", async () => {
    const { publish, attempts, app } = await publishToHandler("flaky-receipt", "refunds.created", (attempt) => attempt === 1, 2);
    const [failed, delivered] = attempts;
    for (const attempt of attempts) childOf(attempt, publish.spanContext());
    expect(failed!.attributes["switchboard.delivery.outcome"]).toBe("failed");
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: "mail server down (run 1)" });
    expect(delivered!.attributes["switchboard.delivery.outcome"]).toBe("delivered");
    expect(delivered!.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed!.attributes["switchboard.delivery.id"]).toBe(delivered!.attributes["switchboard.delivery.id"]);
    expect(app.map((s) => s.attributes["app.attempt"])).toEqual([1, 2]);
    childOf(app[0]!, failed!.spanContext());
    childOf(app[1]!, delivered!.spanContext());
  });

  it("counts published events and delivery attempts by kind and outcome, with their latency", async () => {
    await publishAndDeliver({});
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === "switchboard").flatMap((s) => s.metrics);
    const points = (name: string) => all.find((m) => m.descriptor.name === name)?.dataPoints ?? [];
    const published = points("switchboard.events.published") as Array<DataPoint<number>>;
    expect(published.reduce((n, p) => n + p.value, 0)).toBeGreaterThanOrEqual(3);
    const attempts = points("switchboard.delivery.attempts") as Array<DataPoint<number>>;
    const webhook = attempts.find(
      (p) => p.attributes["switchboard.destination.kind"] === "http" && p.attributes["switchboard.delivery.outcome"] === "delivered",
    );
    expect(webhook?.value).toBeGreaterThanOrEqual(3);
    const duration = points("switchboard.delivery.attempt.duration") as Array<DataPoint<Histogram>>;
    expect(duration.find((p) => p.attributes["switchboard.destination.kind"] === "http")?.value.count).toBeGreaterThanOrEqual(3);
  });
});
