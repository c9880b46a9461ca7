import { describe, expect, it, vi } from "vitest";
import { HubError } from "../errors.js";
import type { PublishOptions } from "../ingest/ingestor.js";
import type { NewEvent } from "../store/store.js";
import { createPublish } from "./publish.js";

describe("createPublish", () => {
  it("normalises the inputs as of the injected clock and passes the idempotency key on", async () => {
    const publish = vi.fn(async (_events: NewEvent[], _options?: PublishOptions) => ({ results: [], replayed: false, stored: 0 }));
    const send = createPublish({ ingestor: { publish }, config: { maxBatchEvents: 10 }, now: () => 1_700_000_000_000 });
    await send(
      [
        { topic: "a.b", data: { n: 1 } },
        { topic: "a.c", data: null },
      ],
      { idempotencyKey: "k1" },
    );
    const [events, options] = publish.mock.calls[0]!;
    expect(events.map((e) => [e.topic, e.receivedAt])).toEqual([
      ["a.b", 1_700_000_000_000],
      ["a.c", 1_700_000_000_000],
    ]);
    expect(options).toEqual({ idempotencyKey: "k1" });
  });

  it("rejects, without throwing, nothing to publish and more events than a batch may hold", async () => {
    const publish = vi.fn();
    const send = createPublish({ ingestor: { publish }, config: { maxBatchEvents: 1 }, now: Date.now });
    const empty = send([]);
    await expect(empty).rejects.toBeInstanceOf(HubError);
    await expect(empty).rejects.toMatchObject({ code: "SB_EVENT_INVALID" });
    await expect(
      send([
        { topic: "a", data: 1 },
        { topic: "a", data: 2 },
      ]),
    ).rejects.toBeInstanceOf(HubError);
    expect(publish).not.toHaveBeenCalled();
  });
});
