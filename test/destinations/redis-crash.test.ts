import { afterAll, describe, expect, it } from "vitest";
import { crashUntilResent, MAX_CRASHES, sigkillMidFlight } from "../helpers/crash.js";
import { createTestRedisStream, REDIS_PORT, type TestRedisStream } from "../helpers/redis.js";

const streams: TestRedisStream[] = [];

afterAll(async () => {
  for (const s of streams) await s.close();
});

describe("SIGKILL mid-flight to a Redis stream", () => {
  it("every event arrives at least once; a resend carries the same webhook-id", { timeout: 90_000 * MAX_CRASHES }, async () => {
    // Each crash on a fresh stream, until one leaves a resend to check.
    const resent = await crashUntilResent(async () => {
      const s = await createTestRedisStream();
      streams.push(s);
      const copies = async () => {
        const ids = new Map<string, string[]>();
        for (const { fields } of await s.entries()) {
          const f = Object.fromEntries(fields);
          ids.set(f["ce-id"]!, [...(ids.get(f["ce-id"]!) ?? []), f["webhook-id"]!]);
        }
        return ids;
      };
      const { byEvent } = await sigkillMidFlight("crash.redis", { url: `redis://127.0.0.1:${REDIS_PORT}/0?stream=${s.key}`, copies });
      return [...byEvent.values()].filter((ids) => ids.length > 1).length;
    });

    // XADDs in flight (or not yet recorded as delivered) when the hub died were sent again: Redis keeps both, with
    // the same webhook-id for the consumer to drop (sigkillMidFlight checks every copy's webhook-id).
    expect(resent).toBeGreaterThan(0);
  });
});
