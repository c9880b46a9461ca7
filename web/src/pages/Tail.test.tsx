// @vitest-environment happy-dom
import { act } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { button, field, render, type, until } from "../test-dom";
import { Tail } from "./Tail";

const fetchBefore = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = fetchBefore;
});

/** A hub's event stream that the test writes frames to. */
function fakeStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const urls: string[] = [];
  globalThis.fetch = (async (input: string) => {
    urls.push(String(input));
    return { ok: true, status: 200, body, headers: new Headers({ "content-type": "text/event-stream" }) } as unknown as Response;
  }) as typeof fetch;
  let seq = 0;
  return {
    urls,
    send(topic: string) {
      seq++;
      const event = { id: `evt_${seq}`, seq, topic, type: null, time: "2026-12-05T00:00:00.000Z", key: null, data: {}, attributes: {} };
      controller.enqueue(new TextEncoder().encode(`id: evt_${seq}\ndata: ${JSON.stringify(event)}\n\n`));
    },
  };
}

describe("Live tail", () => {
  it("streams a topic pattern with a filter; pause holds new events and resume shows them", async () => {
    const stream = fakeStream();
    const view = await render(<Tail />);
    await type(field(view, "Topic pattern"), "orders.*");
    await type(field(view, "CEL filter"), "data.total > 1");
    await act(async () => button(view, "Start").click());
    await until(() => view.querySelector('[role="status"]')?.textContent?.startsWith("live") === true);
    const url = new URL(stream.urls[0]!);
    expect(url.pathname).toBe("/events");
    expect(Object.fromEntries(url.searchParams)).toEqual({ envelope: "true", topic: "orders.*", filter: "data.total > 1" });

    const ids = () => [...view.querySelectorAll("tbody tr[data-row]")].map((r) => r.querySelectorAll("td")[2]?.textContent);
    stream.send("orders.created");
    stream.send("orders.paid");
    await until(() => ids().length === 2);
    expect(ids()).toEqual(["evt_2", "evt_1"]); // newest first

    await act(async () => button(view, "Pause").click());
    stream.send("orders.created");
    await until(() => view.querySelector('[role="status"]')?.textContent?.includes("paused, 1 new held") === true);
    expect(ids()).toEqual(["evt_2", "evt_1"]);

    await act(async () => button(view, "Resume").click());
    await until(() => ids().length === 3);
    expect(ids()).toEqual(["evt_3", "evt_2", "evt_1"]);
    expect(view.querySelector('[role="status"]')?.textContent).toMatch(/^live, \d+\/s$/);
  });
});
