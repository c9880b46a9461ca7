import { afterEach, describe, expect, it } from "vitest";
import { createHub, type Hub } from "../../src/hub.js";
import { ulidTime } from "../../src/ids.js";
import type { StoredEvent } from "../../src/store/store.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { makeSubscription } from "../store/conformance/helpers.js";

// A year the real clock is not at: anything stamped with it came from the injected clock.
const START = Date.UTC(2031, 0, 2, 3, 4, 5, 678);

let hub: Hub | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await hub?.close();
  await receiver?.stop();
  hub = undefined;
  receiver = undefined;
});

describe("createHub({ now })", () => {
  it("stamps events, delivery ids and webhook timestamps with the injected clock", async () => {
    const clock = START;
    receiver = await startReceiver({ status: 200 });
    hub = await createHub({ databaseUrl: "sqlite::memory:", logLevel: "silent", allowPrivateTargets: true, now: () => clock });
    await hub.store.subscriptions.create(makeSubscription("sub_clock", { topic: "clock.t", url: receiver.url, createdAt: clock, updatedAt: clock }));
    await hub.dispatcher.refresh("sub_clock");
    const seen: StoredEvent[] = [];
    hub.onEvent((e) => seen.push(e));

    await hub.publish({ topic: "clock.t", data: { n: 1 } });
    const [request] = await receiver.waitFor(1);
    expect(seen.map((e) => [e.receivedAt, ulidTime(e.id)])).toEqual([[START, START]]);
    expect(request!.headers["webhook-timestamp"]).toBe(String(Math.floor(START / 1000)));
    expect(ulidTime(String(request!.headers["webhook-id"]))).toBe(START);
  });

  it("runs retention as of the injected clock: events expire when the fake time passes, not the real one", async () => {
    let clock = START;
    hub = await createHub({ databaseUrl: "sqlite::memory:", logLevel: "silent", eventRetentionMs: 60_000, now: () => clock });
    await hub.publish([
      { topic: "clock.r", data: { n: 1 } },
      { topic: "clock.r", data: { n: 2 } },
    ]);
    clock += 59_000;
    expect(await hub.runRetention()).toEqual({ removed: 0, topics: {} });
    clock += 2_000;
    expect(await hub.runRetention()).toEqual({ removed: 2, topics: { "clock.r": 2 } });
  });
});
