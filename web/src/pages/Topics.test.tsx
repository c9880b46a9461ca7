// @vitest-environment happy-dom
import { act } from "react";
import { describe, expect, it } from "vitest";
import { button, fakeApi, field, render, settle, type, until } from "../test-dom";
import { Topics } from "./Topics";

/** Picks an option of a select as a user would. */
async function choose(select: HTMLSelectElement, value: string): Promise<void> {
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(select) as object, "value")!.set!;
  await act(async () => {
    setter.call(select, value);
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

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
    await until(() => !button(view, "Create topic").disabled);

    await act(async () => button(view, "Create topic").click());
    await settle();
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({ name: "orders.paid", schema: { type: "object" } });
    expect(post.headers["x-switchboard-console"]).toBe("1");
    expect(calls.filter((c) => c.method === "GET")).toHaveLength(2); // reloaded after creating
  });

  it("edits a topic: its fields filled in, the name fixed, retention in hours sent as ms, a cleared field as null", async () => {
    const calls = fakeApi({
      "GET /api/topics": () => ({ status: 200, body: { data: [topic] } }),
      "PATCH /api/topics/orders.created": () => ({ status: 200, body: topic }),
    });
    const view = await render(<Topics />);
    await act(async () => view.querySelector<HTMLButtonElement>('button[aria-label="Edit orders.created"]')!.click());
    expect(field(view, "Name").value).toBe("orders.created");
    expect(field(view, "Name").readOnly).toBe(true);
    expect(field(view, "Description").value).toBe("New orders");
    await type(field(view, "Retention, hours"), "-1");
    expect(view.textContent).toContain("retention must be a number of hours, 0 or more");
    await type(field(view, "Retention, hours"), "24");
    await type(field(view, "Description"), "");
    await act(async () => button(view, "Save topic").click());
    await settle();
    const patch = calls.find((c) => c.method === "PATCH")!;
    expect(patch.body).toEqual({ description: null, schema: null, retention_ms: 86_400_000 });
    expect(button(view, "Create topic")).toBeTruthy(); // back to a new topic once saved
  });

  it("checks the schema as a JSON Schema while typing: each problem with its line, column and path, and a caret", async () => {
    const calls = fakeApi({ "GET /api/topics": () => ({ status: 200, body: { data: [] } }) });
    const view = await render(<Topics />);
    await type(field(view, "Name"), "orders.paid");
    const schema = field(view, "JSON Schema");
    const problems = () => [...view.querySelectorAll(".schema-problems li")].map((li) => li.textContent);

    await type(schema, '{\n  "type": "object",\n  "required": [total]\n}');
    expect(problems()).toEqual(['line 3, column 16: not JSON: expected a value, found "t"']);
    expect(view.querySelector(".schema-problems pre")?.textContent).toBe('  "required": [total]\n               ^');
    expect(schema.getAttribute("aria-invalid")).toBe("true");

    await type(schema, '{\n  "type": "object",\n  "properties": {\n    "total": {"type": "numbr", "minimum": "0"}\n  },\n  "required": "total"\n}');
    await until(() => problems().length === 3);
    expect(problems()).toEqual([
      'line 4, column 23: /properties/total/type must be equal to one of the allowed values: "array", "boolean", "integer", "null", "number", "object", "string"',
      "line 4, column 43: /properties/total/minimum must be number",
      "line 6, column 15: /required must be array",
    ]);
    expect(view.querySelector(".schema-problems pre")?.textContent).toBe('    "total": {"type": "numbr", "minimum": "0"}\n                      ^');
    expect(button(view, "Create topic").disabled).toBe(true);

    // Right in form but not compilable: the reference does not resolve.
    await type(schema, '{"$ref": "#/definitions/order"}');
    await until(() => problems().length === 1);
    expect(problems()[0]).toMatch(/^line 1, column 1: can't resolve reference #\/definitions\/order/);
    expect(button(view, "Create topic").disabled).toBe(true);

    await type(schema, '{"definitions": {"order": {"type": "object"}}, "$ref": "#/definitions/order"}');
    await until(() => !button(view, "Create topic").disabled);
    expect(view.querySelector(".schema-problems")).toBeNull();
    expect(schema.getAttribute("aria-invalid")).toBe("false");
    expect(calls.filter((c) => c.method !== "GET")).toEqual([]);
  });

  it("shows the hub's refusal of a schema under the form", async () => {
    fakeApi({
      "GET /api/topics": () => ({ status: 200, body: { data: [] } }),
      "POST /api/topics": () => ({
        status: 400,
        body: { error: "invalid topic schema", code: "SB_TOPIC_SCHEMA_INVALID", details: "schema is invalid: data/type must be string" },
      }),
    });
    const view = await render(<Topics />);
    await type(field(view, "Name"), "orders.paid");
    await type(field(view, "JSON Schema"), '{"type": "object"}');
    await until(() => !button(view, "Create topic").disabled);
    await act(async () => button(view, "Create topic").click());
    await settle();
    expect(view.querySelector('[role="alert"]')?.textContent).toBe("schema is invalid: data/type must be string (SB_TOPIC_SCHEMA_INVALID)");
    expect(field(view, "JSON Schema").value).toBe('{"type": "object"}'); // kept, to be fixed
  });

  it("creates a live-only topic and switches one back to stored: storage is sent only when it changes", async () => {
    const live = { ...topic, name: "metrics.live", storage: "none" };
    const calls = fakeApi({
      "GET /api/topics": () => ({ status: 200, body: { data: [live] } }),
      "POST /api/topics": () => ({ status: 201, body: live }),
      "PATCH /api/topics/metrics.live": () => ({ status: 200, body: live }),
    });
    const view = await render(<Topics />);
    expect(view.querySelector("tbody")?.textContent).toContain("live only");
    await type(field(view, "Name"), "ticks");
    await choose(field(view, "Storage") as unknown as HTMLSelectElement, "none");
    await act(async () => button(view, "Create topic").click());
    await settle();
    expect(calls.find((c) => c.method === "POST")!.body).toEqual({ name: "ticks", storage: "none" });

    await act(async () => view.querySelector<HTMLButtonElement>('button[aria-label="Edit metrics.live"]')!.click());
    expect((field(view, "Storage") as unknown as HTMLSelectElement).value).toBe("none");
    await choose(field(view, "Storage") as unknown as HTMLSelectElement, "log");
    await act(async () => button(view, "Save topic").click());
    await settle();
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ description: "New orders", schema: null, retention_ms: null, storage: "log" });
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
