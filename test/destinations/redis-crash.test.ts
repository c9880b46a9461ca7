import { afterAll, describe, expect, it } from "vitest";
import { sigkillMidFlight } from "../helpers/crash.js";
import { createTestRedisStream, REDIS_PORT, type TestRedisStream } from "../helpers/redis.js";

let stream: TestRedisStream | undefined;

afterAll(async () => {
  await stream?.close();
});

describe("SIGKILL mid-flight to a Redis stream", () => {
  it("every event arrives at least once; a resend carries the same webhook-id", { timeout: 90_000 }, async () => {
    stream = await createTestRedisStream();
    const s = stream;
    const copies = async () => {
      const ids = new Map<string, string[]>();
      for (const { fields } of await s.entries()) {
        const f = Object.fromEntries(fields);
        ids.set(f["ce-id"]!, [...(ids.get(f["ce-id"]!) ?? []), f["webhook-id"]!]);
      }
      return ids;
    };

    const { byEvent } = await sigkillMidFlight("crash.redis", { url: `redis://127.0.0.1:${REDIS_PORT}/0?stream=${s.key}`, copies });

    // XADDs in flight (or not yet recorded as delivered) when the hub died were sent again: Redis keeps both, with
    // the same webhook-id for the consumer to drop.
    const resent = [...byEvent.values()].filter((ids) => ids.length > 1).length;
    expect(resent).toBeGreaterThan(0);
  });
});
