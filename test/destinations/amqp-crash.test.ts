import { afterAll, describe, expect, it } from "vitest";
import { AMQP_PORT, createTestExchange, headersOf, type TestExchange } from "../helpers/amqp.js";
import { crashUntilResent, MAX_CRASHES, sigkillMidFlight } from "../helpers/crash.js";

const exchanges: TestExchange[] = [];

afterAll(async () => {
  for (const x of exchanges) await x.close();
});

describe("SIGKILL mid-flight to RabbitMQ", () => {
  it("every event arrives at least once; a resend carries the same message-id", { timeout: 90_000 * MAX_CRASHES }, async () => {
    // Each crash on a fresh exchange, until one leaves a resend to check.
    const resent = await crashUntilResent(async () => {
      const x = await createTestExchange();
      exchanges.push(x);
      // message-id values seen per event id: RabbitMQ queues a resend again, so it shows up here as a second copy.
      const copies = () => {
        const byEvent = new Map<string, string[]>();
        for (const m of x.messages()) {
          const eventId = headersOf(m)["ce-id"] ?? "";
          byEvent.set(eventId, [...(byEvent.get(eventId) ?? []), String(m.properties.messageId ?? "")]);
        }
        return byEvent;
      };

      const url = `amqp://guest:guest@127.0.0.1:${AMQP_PORT}/?exchange=${x.exchange}&routing_key=${x.bindingKey}`;
      const { byEvent } = await sigkillMidFlight("crash.amqp", { url, copies });

      // Every copy names its delivery: a message-id (the delivery id, `dlv_…`) the consumer can drop resends by.
      expect([...byEvent.values()].flat().every((id) => id.startsWith("dlv_"))).toBe(true);
      return [...byEvent.values()].filter((ids) => ids.length > 1).length;
    });

    // Publishes in flight (or confirmed but not yet recorded) when the hub died were sent again, under the same id.
    expect(resent).toBeGreaterThan(0);
  });
});
