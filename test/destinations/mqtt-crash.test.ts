import { afterAll, describe, expect, it } from "vitest";
import { eventually, postJson } from "../helpers/hub.js";
import { MQTT_PORT, subscribeTestTopic, uniqueTopic, type TestTopic } from "../helpers/mqtt.js";
import { makeTempDir, removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";
import { publishMany } from "../helpers/webhooks.js";

const running: SpawnedHub[] = [];
let tap: TestTopic | undefined;
let dir: string | undefined;

afterAll(async () => {
  for (const hub of running) await hub.stop();
  await tap?.close();
  if (dir) await removeDir(dir);
});

const EVENTS = 2000;
const ENV = { SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true" };

describe("SIGKILL mid-flight to MQTT", () => {
  it("every event arrives at least once; a resend carries the same webhook-id", { timeout: 90_000 }, async () => {
    dir = await makeTempDir();
    tap = await subscribeTestTopic({ topic: uniqueTopic("crash") });
    // webhook-id values seen per event id: MQTT drops no resend, so a resend shows up here as a second copy.
    const copies = () => {
      const byEvent = new Map<string, string[]>();
      for (const m of tap!.received) {
        const eventId = m.properties["ce-id"] ?? "";
        byEvent.set(eventId, [...(byEvent.get(eventId) ?? []), m.properties["webhook-id"] ?? ""]);
      }
      return byEvent;
    };

    const first = await spawnHub({ dir, env: ENV });
    running.push(first);
    const topic = "crash.mqtt";
    const created = await postJson(`${first.url}/api/subscriptions`, { topic, url: `mqtt://127.0.0.1:${MQTT_PORT}/${tap.topic}`, max_in_flight: 8 });
    expect(created.status, created.text).toBe(201);
    const posted = await publishMany(first.url, topic, EVENTS, (i) => ({ i }));

    await eventually("some messages published", () => (tap!.received.length >= 100 ? true : undefined), 30_000);
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(tap.received.length).toBeLessThan(EVENTS);

    const second = await spawnHub({ dir, env: ENV });
    running.push(second);
    const want = new Set(posted.map((p) => p.id));
    await eventually(
      `all ${EVENTS} events received`,
      () => {
        const seen = copies();
        return [...want].every((id) => seen.has(id)) ? true : undefined;
      },
      60_000,
    );
    const byEvent = copies();
    expect(new Set(byEvent.keys())).toEqual(want);
    const split = [...byEvent].filter(([, ids]) => new Set(ids).size !== 1).map(([event, ids]) => `${event}: ${ids.join(", ")}`);
    expect(split).toEqual([]);
    expect(tap.received.length).toBeGreaterThanOrEqual(EVENTS);
  });
});
