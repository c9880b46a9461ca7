// @vitest-environment happy-dom
import { act } from "react";
import { describe, expect, it } from "vitest";
import type { EventEnvelope } from "./api";
import { COLUMNS, EventTable } from "./EventTable";
import { render } from "./test-dom";

const events: EventEnvelope[] = Array.from({ length: 10_000 }, (_, i) => ({
  id: `evt_${String(i).padStart(5, "0")}`,
  seq: i + 1,
  topic: "t",
  type: null,
  source: null,
  subject: null,
  time: "2026-12-05T00:00:00.000Z",
  key: null,
  data: { i },
  attributes: {},
  received_at: "2026-12-05T00:00:00.000Z",
}));

describe("EventTable", () => {
  it("renders only the rows in view of 10,000, and follows the scroll", async () => {
    const selected: string[] = [];
    const view = await render(<EventTable events={events} onSelect={(e) => selected.push(e.id)} columns={[COLUMNS.id]} />);
    const ids = () => [...view.querySelectorAll("tbody tr[tabindex]")].map((r) => r.textContent);
    expect(ids().length).toBeLessThan(50);
    expect(ids()[0]).toBe("evt_00000");

    const scroller = view.querySelector<HTMLDivElement>(".scroller")!;
    await act(async () => {
      scroller.scrollTop = 33 * 5_000;
      scroller.dispatchEvent(new Event("scroll"));
    });
    expect(ids().length).toBeLessThan(50);
    expect(ids()).toContain("evt_05000");
    // The spacers keep the full height, so the scrollbar stays true to the list.
    const heights = [...view.querySelectorAll<HTMLTableRowElement>("tbody tr")].reduce((h, r) => h + parseFloat(r.style.height), 0);
    expect(heights).toBe(33 * 10_000);

    await act(async () => view.querySelector<HTMLTableRowElement>("tbody tr[tabindex]")!.click());
    expect(selected).toHaveLength(1);
  });

  it("is one Tab stop: arrow keys move between rows, the stop follows the focus, Enter selects", async () => {
    const selected: string[] = [];
    const view = await render(<EventTable events={events.slice(0, 100)} onSelect={(e) => selected.push(e.id)} columns={[COLUMNS.id]} />);
    const stops = () => [...view.querySelectorAll<HTMLTableRowElement>("tbody tr[data-row]")].filter((r) => r.tabIndex === 0);
    expect(stops().map((r) => r.textContent)).toEqual(["evt_00000"]);
    const press = async (key: string) =>
      act(async () => {
        (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
      });
    await act(async () => stops()[0]!.focus());
    await press("ArrowDown");
    await press("ArrowDown");
    await press("ArrowUp");
    expect(document.activeElement?.textContent).toBe("evt_00001");
    expect(stops().map((r) => r.textContent)).toEqual(["evt_00001"]);
    await press("ArrowUp");
    await press("ArrowUp"); // the first row stays: the header is not a row
    expect(document.activeElement?.textContent).toBe("evt_00000");
    await press("Enter");
    expect(selected).toEqual(["evt_00000"]);
  });
});
