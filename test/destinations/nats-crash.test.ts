import type { Subscription as NatsSubscription } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { CRASH_EVENTS, crashUntilResent, MAX_CRASHES, sigkillMidFlight } from "../helpers/crash.js";
import { eventually } from "../helpers/hub.js";
import { createTestStream, NATS_PORT, type TestStream } from "../helpers/nats.js";

const streams: TestStream[] = [];
const taps: NatsSubscription[] = [];

afterAll(async () => {
  for (const tap of taps) tap.unsubscribe();
  for (const s of streams) await s.close();
});

describe("SIGKILL mid-flight to NATS JetStream", () => {
  it("every event is stored once; a resend carries the same Nats-Msg-Id", { timeout: 90_000 * MAX_CRASHES }, async () => {
    // Each crash on a fresh stream, until one leaves a resend to check.
    const resent = await crashUntilResent(async () => {
      const s = await createTestStream();
      streams.push(s);
      // A core subscription on the subject sees every publish, resends included (JetStream drops those by id).
      const published = new Map<string, string[]>();
      taps.push(
        s.nc.subscribe(s.subject, {
          callback: (_err, msg) => {
            const eventId = msg.headers?.get("ce-id") ?? "";
            published.set(eventId, [...(published.get(eventId) ?? []), msg.headers?.get("Nats-Msg-Id") ?? ""]);
          },
        }),
      );

      const { total } = await sigkillMidFlight("crash.nats", { url: `nats://127.0.0.1:${NATS_PORT}/${s.subject}`, copies: () => published });

      // JetStream stored each event once: resends within the duplicate window were dropped by Nats-Msg-Id.
      const jsm = await s.nc.jetstreamManager();
      await eventually("the stream holds every event", async () => ((await jsm.streams.info(s.name)).state.messages >= CRASH_EVENTS ? true : undefined));
      expect((await jsm.streams.info(s.name)).state.messages).toBe(CRASH_EVENTS);
      return total - CRASH_EVENTS;
    });

    // Publishes in flight (or not yet recorded) when the hub died were sent again: the checks had resends to look
    // at, and the stream count shows JetStream dropped them.
    expect(resent).toBeGreaterThan(0);
  });
});
