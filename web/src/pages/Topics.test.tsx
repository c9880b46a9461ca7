// @vitest-environment happy-dom
import { act } from "react";
import { describe, expect, it } from "vitest";
import { button, fakeApi, field, render, settle, type } from "../test-dom";
import { Topics } from "./Topics";

const topic = {
  name: "orders.created",
  description: "New orders",
  schema: null,
  event_count: 1234,
  last_event_at: "2026-12-05T10:00:00.000Z",
  retention_ms: null,
  created_at: "x",
};

describe("Topics", () => {
  it("lists topics with their counts, checks the schema as JSON while typing, and creates with the console header", async () => {
    const calls = fakeApi({
      "GET /api/topics": () => ({ status: 200, body: { data: [topic] } }),
      "POST /api/topics": () => ({ status: 201, body: topic }),
    });
    const view = await render(<Topics />);
    expect(view.querySelector("tbody")?.textContent).toContain("orders.created");
    expect(view.querySelector("tbody td.num")?.textContent).toBe((1234).toLocaleString());

    await type(field(view, "Name"), "orders.paid");
    await type(field(view, "JSON Schema"), '{"type": "object"');
    expect(view.textContent).toContain("not JSON");
    expect(button(view, "Create topic").disabled).toBe(true);
    await type(field(view, "JSON Schema"), '{"type": "object"}');
    expect(button(view, "Create topic").disabled).toBe(false);

    await act(async () => button(view, "Create topic").click());
    await settle();
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({ name: "orders.paid", schema: { type: "object" } });
    expect(post.headers["x-switchboard-console"]).toBe("1");
    expect(calls.filter((c) => c.method === "GET")).toHaveLength(2); // reloaded after creating
  });

  it("shows the hub's error with its code when it refuses", async () => {
    fakeApi({
      "GET /api/topics": () => ({ status: 200, body: { data: [] } }),
      "POST /api/topics": () => ({ status: 409, body: { error: "conflict", code: "SB_TOPIC_EXISTS", details: "topic orders.paid exists" } }),
    });
    const view = await render(<Topics />);
    expect(view.textContent).toContain("No topics yet.");
    await type(field(view, "Name"), "orders.paid");
    await act(async () => button(view, "Create topic").click());
    await settle();
    expect(view.querySelector('[role="alert"]')?.textContent).toBe("topic orders.paid exists (SB_TOPIC_EXISTS)");
  });
});
