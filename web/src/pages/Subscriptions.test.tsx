// @vitest-environment happy-dom
import { act } from "react";
import { afterEach, describe, expect, it } from "vitest";
import type { Subscription } from "../api";
import { button, fakeApi, field, render, settle, type, until } from "../test-dom";
import { Subscriptions } from "./Subscriptions";

const common = {
  filter: null,
  headers: {},
  active: true,
  disabled_reason: null,
  ordering: "none",
  retry: { schedule: [0, 5, 30] },
  timeout_ms: 10_000,
  max_in_flight: 10,
  rate_limit: null,
  body: "data",
  failing_since: null,
  created_at: "2026-12-05T09:00:00.000Z",
  updated_at: "2026-12-05T09:00:00.000Z",
} as const;
const webhook = { ...common, id: "sub_web", kind: "http", topic: "orders.*", url: "https://example.com/hook" } as unknown as Subscription;
const handler = {
  ...common,
  id: "sub_fn",
  kind: "function",
  name: "send-receipt",
  priority: 50,
  topic: "orders.created",
  url: "function:send-receipt",
  filter: "data.total > 100",
  max_in_flight: 4,
} as unknown as Subscription;
const dead = {
  id: "dlv_dead",
  event_id: "evt_1",
  subscription_id: "sub_fn",
  status: "dead",
  attempt_count: 1,
  last_status: null,
  last_error: "mail server down",
  next_attempt_at: null,
  created_at: "2026-12-05T10:00:00.000Z",
  updated_at: "2026-12-05T10:00:00.000Z",
};

const confirm = window.confirm;
afterEach(() => {
  window.confirm = confirm;
});

async function openRow(view: HTMLElement, text: string): Promise<HTMLElement> {
  const row = [...view.querySelectorAll<HTMLTableRowElement>("tbody tr[tabindex]")].find((r) => r.textContent?.includes(text))!;
  await act(async () => row.click());
  await settle();
  return view.querySelector<HTMLElement>('aside[aria-label="Subscription"]')!;
}

describe("Subscriptions", () => {
  it("lists webhooks and handlers with their kind; a handler offers its deliveries, retry and replay, and says why nothing else", async () => {
    const confirmed: string[] = [];
    window.confirm = (m?: string) => (confirmed.push(String(m)), true);
    let deliveryReads = 0;
    const calls = fakeApi({
      "GET /api/subscriptions": () => ({ status: 200, body: { data: [webhook, handler] } }),
      "GET /api/deliveries": () => {
        deliveryReads++;
        return { status: 200, body: { data: [dead], next_cursor: null } };
      },
      "POST /api/subscriptions/sub_fn/retry": () => ({ status: 202, body: { retried: 1 } }),
      "POST /api/deliveries/dlv_dead/retry": () => ({ status: 202, body: { ...dead, status: "pending" } }),
      "POST /api/subscriptions/sub_fn/replay": () => ({ status: 202, body: { replayed: 2 } }),
    });
    const view = await render(<Subscriptions />);
    const rows = [...view.querySelectorAll("tbody tr[tabindex]")].map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent));
    expect(rows).toEqual([
      ["healthy", "orders.*", "http", "https://example.com/hook", "—"],
      ["healthy", "orders.created", "handler", "send-receipt", "data.total > 100"],
    ]);

    const detail = await openRow(view, "send-receipt");
    expect(detail.querySelector("h2")?.textContent).toBe("orders.created → handler send-receipt");
    expect(detail.textContent).toContain("priority 50 · concurrency 4");
    expect(detail.querySelector(".note")?.textContent).toMatch(/in-process handler: the application that registers it with hub\.handle/);
    const actions = [...detail.querySelectorAll(".actions button")].map((b) => b.textContent);
    expect(actions).toEqual(["Retry dead deliveries"]);

    await act(async () => button(detail, "Retry dead deliveries").click());
    await settle();
    expect(detail.querySelector('[role="status"]')?.textContent).toBe("1 dead deliveries sent again");
    expect(calls.some((c) => c.method === "POST" && c.path === "/api/subscriptions/sub_fn/retry")).toBe(true);

    // The delivery log: the dead one, with its error, retried from its row.
    const log = detail.querySelector('table[aria-label="Delivery log"] tbody')!;
    expect([...log.querySelectorAll("td")].map((td) => td.textContent)).toEqual(["2026-12-05 10:00:00", "dead", "1", "mail server down", "Retry"]);
    const readsBefore = deliveryReads;
    await act(async () => detail.querySelector<HTMLButtonElement>('button[aria-label="Retry delivery dlv_dead"]')!.click());
    await settle();
    expect(calls.some((c) => c.method === "POST" && c.path === "/api/deliveries/dlv_dead/retry")).toBe(true);
    expect(deliveryReads).toBeGreaterThan(readsBefore); // read again

    // Replay a range, after a confirmation; the progress counts the deliveries made since.
    await type(field(detail, "Replay from"), "2026-12-05T09:00:00");
    await type(field(detail, "to"), "2026-12-05T11:00:00");
    await act(async () => button(detail, "Replay").click());
    await settle();
    expect(confirmed.at(-1)).toMatch(/^Send every event from .* to this subscription again\?$/);
    const replay = calls.find((c) => c.path === "/api/subscriptions/sub_fn/replay")!;
    expect(replay.body).toEqual({ from: new Date("2026-12-05T09:00:00").toISOString(), to: new Date("2026-12-05T11:00:00").toISOString() });
    const progress = () => detail.querySelector(".replay-progress")?.textContent;
    expect(progress()).toBe("2 events replayed: 0 delivered, 0 dead, 2 on the way");
    // The fake log answers one dead delivery since: nothing is open any more, so the count stops there.
    await until(() => progress() === "2 events replayed: 0 delivered, 1 dead, 0 on the way");
    const since = calls.filter((c) => c.path.startsWith("/api/deliveries?") && c.path.includes("from="));
    expect(since.length).toBeGreaterThan(0);
  });

  it("edits a webhook subscription: checks the form, sends only what changed, and shows the hub's refusal", async () => {
    let answer: { status: number; body: unknown } = {
      status: 400,
      body: { error: "invalid filter", code: "SB_FILTER_INVALID", details: "Unexpected end of input\n\ndata.total >\n            ^" },
    };
    const calls = fakeApi({
      "GET /api/subscriptions": () => ({ status: 200, body: { data: [webhook] } }),
      "GET /api/deliveries": () => ({ status: 200, body: { data: [], next_cursor: null } }),
      "PATCH /api/subscriptions/sub_web": () => answer,
    });
    const view = await render(<Subscriptions />);
    const detail = await openRow(view, "example.com");
    expect([...detail.querySelectorAll(".actions button")].map((b) => b.textContent)).toEqual([
      "Edit",
      "Pause",
      "Reveal secret",
      "Rotate secret",
      "Send test event",
      "Retry dead deliveries",
      "Delete",
    ]);
    await act(async () => button(detail, "Edit").click());
    const form = detail.querySelector<HTMLFormElement>('form[aria-label="Edit subscription"]')!;
    expect(field(form, "Topic or pattern").value).toBe("orders.*");
    expect(field(form, "Retry delays").value).toBe("0, 5, 30");

    await type(field(form, "Destination url"), "example.com/hook");
    expect(form.querySelector(".error")?.textContent).toMatch(/^the destination must be a full url/);
    expect(button(form, "Save subscription").disabled).toBe(true);
    await type(field(form, "Destination url"), "https://example.com/hook");
    await type(field(form, "Retry delays"), "0, -5");
    expect(form.querySelector(".error")?.textContent).toBe("retry delays must be 1 to 50 numbers of seconds, 0 or more");
    await type(field(form, "Retry delays"), "1, 10");
    await type(field(form, "CEL filter"), "data.total >");
    await act(async () => button(form, "Save subscription").click());
    await settle();
    expect(form.querySelector("pre.error")?.textContent).toBe("Unexpected end of input\n\ndata.total >\n            ^ (SB_FILTER_INVALID)");

    answer = { status: 200, body: { ...webhook, filter: "data.total > 1", retry: { schedule: [1, 10] } } };
    await type(field(form, "CEL filter"), "data.total > 1");
    await act(async () => button(form, "Save subscription").click());
    await settle();
    const patches = calls.filter((c) => c.method === "PATCH");
    expect(patches.at(-1)!.body).toEqual({ filter: "data.total > 1", retry: { schedule: [1, 10] } });
    expect(detail.querySelector('form[aria-label="Edit subscription"]')).toBeNull();
    expect(detail.querySelector('[role="status"]')?.textContent).toBe("Saved");
  });
});
