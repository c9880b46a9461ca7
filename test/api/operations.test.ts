import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/build-app.js";
import { createHub } from "../../src/hub.js";
import { createLogger } from "../../src/log.js";
import { metricValue, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse } from "../helpers/sse.js";

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.close());

describe("health and readiness", () => {
  it.each(["/health", "/api/health"])("%s answers 200 while the store answers", async (path) => {
    const reply = await request(`${hub.url}${path}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: "ok", store: "sqlite" });
  });

  it("/ready answers 200 once listening", async () => {
    const reply = await request(`${hub.url}/ready`);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: "ready" });
  });

  it("/ready answers 503 while starting, and /health 503 once the store is closed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-ready-"));
    const log = createLogger("silent");
    const core = await createHub({ databaseUrl: `sqlite:${join(dir, "hub.db")}`, logLevel: "silent", log });
    const app = await buildApp({ hub: core, log });
    try {
      const starting = await app.fastify.inject({ method: "GET", url: "/ready" });
      expect(starting.statusCode).toBe(503);
      expect(starting.json()).toEqual({ status: "starting" });
      app.lifecycle = "ready";
      expect((await app.fastify.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
      app.lifecycle = "draining";
      const draining = await app.fastify.inject({ method: "GET", url: "/ready" });
      expect(draining.statusCode).toBe(503);
      expect(draining.json()).toEqual({ status: "draining" });
      // While draining, new work is refused with the error body.
      const refused = await app.fastify.inject({ method: "POST", url: "/api/events", payload: { a: 1 } });
      expect(refused.statusCode).toBe(503);
      expect(refused.json().code).toBe("SB_SHUTTING_DOWN");

      await core.close();
      const health = await app.fastify.inject({ method: "GET", url: "/health" });
      expect(health.statusCode).toBe(503);
      expect(health.json().code).toBe("SB_STORE_UNAVAILABLE");
    } finally {
      await app.fastify.close();
      await core.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a worker node", () => {
  it("serves /health, /ready and /metrics only: BASE_PATH/health is 404 like the rest of the API", async () => {
    const worker = await startTestHub({ role: "worker" });
    try {
      for (const path of ["/health", "/ready", "/metrics"]) expect((await request(`${worker.url}${path}`)).status, path).toBe(200);
      for (const path of ["/api/health", "/api/events", "/api/topics"]) {
        const reply = await request(`${worker.url}${path}`);
        expect(reply.status, path).toBe(404);
        expect(reply.body.code, path).toBe("SB_ROUTE_NOT_FOUND");
      }
    } finally {
      await worker.close();
    }
  });
});

describe("/metrics", () => {
  it("exposes ingest, commit, stream and event-loop metrics in Prometheus text", async () => {
    const stream = await openLiveSse(hub.url, "/events?topic=ops.metrics");
    try {
      const posted = await postJson(`${hub.url}/api/events?topic=ops.metrics`, [{ n: 1 }, { n: 2 }]);
      expect(posted.status).toBe(201);
      await stream.waitForEvents(2);

      const reply = await request(`${hub.url}/metrics`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = reply.text;
      for (const name of [
        "switchboard_events_ingested_total",
        "switchboard_ingest_latency_seconds",
        "switchboard_commit_batch_events",
        "switchboard_streams_open",
        "switchboard_stream_frames_sent_total",
        "switchboard_stream_frames_dropped_total",
        "switchboard_event_loop_delay_p99_seconds",
      ]) {
        expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
      }
      expect(metricValue(text, "switchboard_events_ingested_total")).toBeGreaterThanOrEqual(2);
      expect(metricValue(text, "switchboard_streams_open")).toBe(1);
      expect(metricValue(text, "switchboard_stream_frames_sent_total")).toBeGreaterThanOrEqual(2);
      expect(metricValue(text, "switchboard_ingest_latency_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, "switchboard_commit_batch_events_count")).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, "switchboard_event_loop_delay_p99_seconds")).toBeGreaterThanOrEqual(0);
    } finally {
      stream.close();
      await stream.closed;
    }
  });
});
