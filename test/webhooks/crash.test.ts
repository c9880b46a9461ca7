import { afterAll, describe, expect, it } from "vitest";
import { postJson } from "../helpers/hub.js";
import { makeTempDir, removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { eventIdOf, publishMany } from "../helpers/webhooks.js";

const running: SpawnedHub[] = [];
let receiver: Receiver | undefined;
let dir: string | undefined;

afterAll(async () => {
  for (const hub of running) await hub.stop();
  await receiver?.close();
  if (dir) await removeDir(dir);
});

const EVENTS = 300;
const ENV = { SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true" };

describe("SIGKILL mid-delivery", () => {
  it("delivers every event at least once after a restart, and a duplicate keeps its webhook-id", { timeout: 90_000 }, async () => {
    dir = await makeTempDir();
    receiver = await startReceiver();
    receiver.respond({ status: 200 }, 50); // slow: deliveries are in flight when the hub dies

    const first = await spawnHub({ dir, env: ENV });
    running.push(first);
    const created = await postJson(`${first.url}/api/subscriptions`, { topic: "crash.hook", url: receiver.url, max_in_flight: 8 });
    expect(created.status, created.text).toBe(201);
    const posted = await publishMany(first.url, "crash.hook", EVENTS, (i) => ({ i }));

    // Some delivered, most still to go, 8 in flight: kill.
    await receiver.waitFor(40, 30_000);
    first.kill("SIGKILL");
    const exit = await first.exited;
    expect(exit.signal).toBe("SIGKILL");
    const beforeRestart = receiver.requests.length;
    expect(beforeRestart).toBeLessThan(EVENTS);

    const second = await spawnHub({ dir, env: ENV });
    running.push(second);
    const want = new Set(posted.map((p) => p.id));
    await receiver.waitUntil(
      `all ${EVENTS} events`,
      (all) => all.filter((r) => r.answered === 200 && want.has(eventIdOf(r))).reduce((s, r) => s.add(eventIdOf(r)), new Set<string>()).size === EVENTS,
      60_000,
    );

    // At least once; and a duplicate is a resend of the same delivery, which a receiver dedupes by webhook-id.
    const webhookIds = new Map<string, Set<string>>();
    for (const r of receiver.requests) {
      const ids = webhookIds.get(eventIdOf(r)) ?? new Set<string>();
      ids.add(String(r.headers["webhook-id"]));
      webhookIds.set(eventIdOf(r), ids);
    }
    expect(new Set(webhookIds.keys())).toEqual(want);
    const split = [...webhookIds].filter(([, ids]) => ids.size !== 1).map(([event, ids]) => `${event}: ${[...ids].join(", ")}`);
    expect(split).toEqual([]);
    expect(new Set(receiver.json<{ i: number }>().map((b) => b.i)).size).toBe(EVENTS);
    // The request that triggered the kill was still waiting for its answer: it is sent again, so the duplicate
    // check above had something to check.
    expect(receiver.requests.length).toBeGreaterThan(EVENTS);
  });
});
