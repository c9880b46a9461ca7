/** In-process handlers over HTTP: listed as subscriptions of kind "function", read-only, their deliveries retried and replayed. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type App } from "../../src/api/build-app.js";
import type { Hub } from "../../src/hub.js";
import { eventually } from "../helpers/hub.js";
import { deliveriesOf, handlerId, newPlace, type HubPlace } from "../helpers/library.js";

describe("handlers over HTTP", () => {
  let place: HubPlace;
  let hub: Hub;
  let app: App;
  let id: string;
  let fail = true;
  const runs: string[] = [];

  beforeAll(async () => {
    place = await newPlace("sqlite");
    hub = await place.open({ allowPrivateTargets: true });
    hub.handle(
      "orders.*",
      (event) => {
        runs.push(event.id);
        if (fail) throw new Error("mail server down");
      },
      { name: "send-receipt", priority: 50, concurrency: 4, maxErrors: 1, filter: "data.total > 100" },
    );
    await hub.start();
    app = await buildApp({ hub });
    id = await handlerId(hub, "send-receipt");
  });
  afterAll(async () => {
    await app?.fastify.close();
    await place?.dispose();
  });

  it('lists a handler with kind "function", its name and priority, beside webhook subscriptions of kind "http"', async () => {
    const created = await app.fastify.inject({ method: "POST", url: "/api/subscriptions", payload: { topic: "orders.*", url: "http://127.0.0.1:9/hook" } });
    expect(created.statusCode).toBe(201);
    expect(created.json().kind).toBe("http");
    const list = (await app.fastify.inject({ method: "GET", url: "/api/subscriptions" })).json().data as Array<Record<string, unknown>>;
    expect(list.find((s) => s.id === id)).toMatchObject({
      kind: "function",
      name: "send-receipt",
      priority: 50,
      url: "function:send-receipt",
      topic: "orders.*",
      filter: "data.total > 100",
      max_in_flight: 4,
      retry: { schedule: [0] },
      active: true,
    });
    expect((await app.fastify.inject({ method: "GET", url: `/api/subscriptions/${id}` })).json().kind).toBe("function");
  });

  it.each([
    ["PATCH", "", { active: false }],
    ["PUT", "", { topic: "other" }],
    ["DELETE", "", undefined],
    ["POST", "/pause", undefined],
    ["POST", "/resume", undefined],
  ] as const)("refuses %s %s with 409 SB_SUBSCRIPTION_READ_ONLY", async (method, suffix, payload) => {
    const reply = await app.fastify.inject({ method, url: `/api/subscriptions/${id}${suffix}`, ...(payload ? { payload } : {}) });
    expect(reply.statusCode).toBe(409);
    expect(reply.json()).toMatchObject({ code: "SB_SUBSCRIPTION_READ_ONLY", error: "subscription is read-only" });
    expect(reply.json().details).toMatch(/in-process handler "send-receipt"/);
    expect((await hub.store.subscriptions.get(id))?.active).toBe(true);
  });

  it("refuses to create a subscription with a function: url", async () => {
    const reply = await app.fastify.inject({ method: "POST", url: "/api/subscriptions", payload: { topic: "t", url: "function:mine" } });
    expect(reply.statusCode).toBe(400);
    expect(reply.json().code).toBe("SB_SUBSCRIPTION_INVALID");
  });

  it("retries a dead delivery of a handler, and replays its events, over HTTP", async () => {
    await hub.publish([
      { topic: "orders.created", data: { total: 120 } },
      { topic: "orders.created", data: { total: 5 } },
    ]);
    const dead = await eventually("a dead delivery", async () => (await deliveriesOf(hub, id)).find((d) => d.status === "dead"));
    expect(dead.lastError).toBe("mail server down");
    const detail = (await app.fastify.inject({ method: "GET", url: `/api/deliveries/${dead.id}` })).json();
    expect(detail.attempts.map((a: { error: string }) => a.error)).toEqual(["mail server down"]);
    fail = false;
    expect((await app.fastify.inject({ method: "POST", url: `/api/deliveries/${dead.id}/retry` })).statusCode).toBe(202);
    await eventually("delivered", async () => ((await hub.store.deliveries.get(dead.id))?.status === "delivered" ? true : undefined));
    const replay = await app.fastify.inject({ method: "POST", url: `/api/subscriptions/${id}/replay`, payload: {} });
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toEqual({ replayed: 1 }); // the filter leaves out total 5
    await eventually("the replayed run", () => (runs.length === 3 ? true : undefined));
    expect(new Set(runs).size).toBe(1);
  });
});
