// @vitest-environment happy-dom
import { act } from "react";
import { describe, expect, it } from "vitest";
import { button, fakeApi, field, render, settle, type } from "../test-dom";
import { Events, rangeEnd } from "./Events";

const event = (i: number) => ({
  id: `evt_${i}`,
  seq: i,
  topic: "orders.created",
  type: null,
  source: null,
  subject: null,
  time: "2026-12-05T00:00:00.000Z",
  key: null,
  data: { i },
  attributes: {},
  received_at: "2026-12-05T00:00:00.000Z",
});

async function choose(select: HTMLSelectElement, value: string): Promise<void> {
  await act(async () => {
    select.value = value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

const queryOf = (path: string) => Object.fromEntries(new URL(path, "http://x").searchParams);

describe("Events", () => {
  it("each end of the range is relative or absolute: from 24 hours ago until 1 hour ago, then until a time", async () => {
    const calls = fakeApi({
      "GET /api/events": () => ({ status: 200, body: { data: [event(2), event(1)], next_cursor: "c2" } }),
    });
    const view = await render(<Events />);
    await choose(field(view, "From") as unknown as HTMLSelectElement, "24h");
    await choose(field(view, "Until") as unknown as HTMLSelectElement, "1h");
    const before = Date.now();
    await act(async () => button(view, "Search").click());
    await settle();
    const first = queryOf(calls.at(-1)!.path);
    const hour = 3_600_000;
    expect(Date.parse(first.from!)).toBeGreaterThanOrEqual(before - 24 * hour - 1000);
    expect(Date.parse(first.from!)).toBeLessThanOrEqual(Date.now() - 24 * hour);
    expect(Date.parse(first.to!)).toBeGreaterThanOrEqual(before - hour - 1000);
    expect(Date.parse(first.to!)).toBeLessThanOrEqual(Date.now() - hour);
    expect(view.querySelectorAll("tbody tr[tabindex]")).toHaveLength(2);

    // "More" pages on through the same range, as it was resolved for the first page.
    await act(async () => button(view, "More").click());
    await settle();
    const more = queryOf(calls.at(-1)!.path);
    expect(more).toMatchObject({ cursor: "c2", from: first.from, to: first.to });

    await choose(field(view, "From") as unknown as HTMLSelectElement, "");
    await choose(field(view, "Until") as unknown as HTMLSelectElement, "at");
    await type(field(view, "End"), "2026-12-05T10:30:00");
    await act(async () => button(view, "Search").click());
    await settle();
    const absolute = queryOf(calls.at(-1)!.path);
    expect(absolute.from).toBeUndefined();
    expect(absolute.to).toBe(new Date("2026-12-05T10:30:00").toISOString());
  });

  it("refuses an empty range before asking the hub", async () => {
    const calls = fakeApi({});
    const view = await render(<Events />);
    await choose(field(view, "From") as unknown as HTMLSelectElement, "1h");
    await choose(field(view, "Until") as unknown as HTMLSelectElement, "24h");
    expect(view.querySelector("form .error")?.textContent).toBe("the range is empty: its start is not before its end");
    expect(button(view, "Search").disabled).toBe(true);
    await choose(field(view, "Until") as unknown as HTMLSelectElement, "15m");
    expect(view.querySelector("form .error")).toBeNull();
    expect(calls).toEqual([]);
  });

  it.each([
    ["", "", undefined],
    ["15m", "", "2026-12-05T11:45:00.000Z"],
    ["7d", "", "2026-11-28T12:00:00.000Z"],
    ["at", "", undefined],
  ])("rangeEnd(%j, %j) at noon is %s", (choice, at, expected) => {
    expect(rangeEnd(choice, at, Date.parse("2026-12-05T12:00:00.000Z"))).toBe(expected);
  });
});

describe("the event's page", () => {
  it("opens the event of /search/<id>, and keeps the address in step with the event open", async () => {
    window.history.replaceState(null, "", "/search/evt_7");
    fakeApi({
      "GET /api/events/evt_7": () => ({ status: 200, body: { ...event(7), deliveries: [{ id: "dlv_1" }] } }),
      "GET /api/deliveries/dlv_1": () => ({
        status: 200,
        body: {
          id: "dlv_1",
          subscription_id: "sub_1",
          status: "delivered",
          next_attempt_at: null,
          attempts: [{ attempted_at: "2026-12-05T00:00:01.000Z", status_code: 200, error: null, latency_ms: 12 }],
        },
      }),
      "GET /api/events": () => ({ status: 200, body: { data: [event(8), event(7)], next_cursor: null } }),
    });
    const view = await render(<Events />);
    const panel = view.querySelector('aside[aria-label="Event"]')!;
    expect(JSON.parse(panel.querySelector("pre")!.textContent!)).toEqual(event(7)); // the event, not its deliveries
    expect(panel.querySelector(".timeline li")?.textContent).toBe("2026-12-05T00:00:01.000Z 200 12 ms");
    expect(panel.querySelector("a")?.getAttribute("href")).toBe("/search/evt_7");

    await act(async () => button(view, "Search").click());
    await settle();
    expect(window.location.pathname).toBe("/search"); // a new search closes it
    await act(async () => view.querySelector<HTMLTableRowElement>("tbody tr[data-row]")!.click());
    await settle();
    expect(window.location.pathname).toBe("/search/evt_8");
    await act(async () => button(view.querySelector('aside[aria-label="Event"]')!, "Close").click());
    expect(window.location.pathname).toBe("/search");
    expect(view.querySelector('aside[aria-label="Event"]')).toBeNull();
  });

  it("says so when the event of the address is not there", async () => {
    window.history.replaceState(null, "", "/search/evt_gone");
    fakeApi({
      "GET /api/events/evt_gone": () => ({ status: 404, body: { error: "not found", code: "SB_EVENT_NOT_FOUND", details: "event evt_gone not found" } }),
    });
    const view = await render(<Events />);
    expect(view.querySelector('[role="alert"]')?.textContent).toBe("event evt_gone not found (SB_EVENT_NOT_FOUND)");
    window.history.replaceState(null, "", "/");
  });
});
