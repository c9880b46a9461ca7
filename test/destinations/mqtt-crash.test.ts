import { afterAll, describe, expect, it } from "vitest";
import { CRASH_EVENTS, sigkillMidFlight } from "../helpers/crash.js";
import { MQTT_PORT, subscribeTestTopic, uniqueTopic, type TestTopic } from "../helpers/mqtt.js";

let tap: TestTopic | undefined;

afterAll(async () => {
  await tap?.close();
});

describe("SIGKILL mid-flight to MQTT", () => {
  it("every event arrives at least once; a resend carries the same webhook-id", { timeout: 90_000 }, async () => {
    const t = (tap = await subscribeTestTopic({ topic: uniqueTopic("crash") }));
    // webhook-id values seen per event id: MQTT drops no resend, so a resend shows up here as a second copy.
    const copies = () => {
      const byEvent = new Map<string, string[]>();
      for (const m of t.received) {
        const eventId = m.properties["ce-id"] ?? "";
        byEvent.set(eventId, [...(byEvent.get(eventId) ?? []), m.properties["webhook-id"] ?? ""]);
      }
      return byEvent;
    };

    const { total } = await sigkillMidFlight("crash.mqtt", { url: `mqtt://127.0.0.1:${MQTT_PORT}/${t.topic}`, copies });

    expect(total).toBeGreaterThanOrEqual(CRASH_EVENTS);
  });
});
