import { randomBytes } from "node:crypto";
import { createClient, type RedisClientType } from "@redis/client";

/** The shared Redis server (`.ci/run` starts it). */
export const REDIS_PORT = 6379;

/** A fresh key or channel name under `sbtest:`, so that tests sharing the server never meet. */
export function uniqueRedisName(prefix: string): string {
  return `sbtest:${prefix}_${randomBytes(5).toString("hex")}`;
}

/** A client of the shared server on database `db` (0 by default); the caller closes it. */
export async function redisClient(db = 0): Promise<RedisClientType> {
  const client = createClient({ socket: { host: "127.0.0.1", port: REDIS_PORT }, database: db }) as RedisClientType;
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** One stream entry as XRANGE gives it: its id and its fields in order. */
export interface StreamEntry {
  id: string;
  fields: Array<[string, string]>;
}

/** A unique stream key that `close()` deletes; `entries()` reads it from the start. */
export interface TestRedisStream {
  key: string;
  client: RedisClientType;
  entries(): Promise<StreamEntry[]>;
  close(): Promise<void>;
}

/**
 * A stream key no other test uses, on database `db`.
 * @example const s = await createTestRedisStream(); afterAll(() => s.close());
 */
export async function createTestRedisStream(db = 0): Promise<TestRedisStream> {
  const key = uniqueRedisName("stream");
  const client = await redisClient(db);
  return {
    key,
    client,
    async entries() {
      // The raw reply keeps the field order, which the hub's layout promises (`body` last).
      const reply = (await client.sendCommand(["XRANGE", key, "-", "+"])) as Array<[string, string[]]>;
      return reply.map(([id, flat]) => ({
        id,
        fields: Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!] as [string, string]),
      }));
    },
    async close() {
      await client.del(key).catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/** A subscriber on a unique channel that keeps every message it receives. */
export interface TestRedisChannel {
  channel: string;
  received: string[];
  close(): Promise<void>;
}

/** Subscribes to a fresh channel; messages published from now on are kept, in order. */
export async function subscribeTestChannel(): Promise<TestRedisChannel> {
  const channel = uniqueRedisName("channel");
  const client = await redisClient();
  const received: string[] = [];
  await client.subscribe(channel, (message) => received.push(message));
  return {
    channel,
    received,
    async close() {
      await client.close().catch(() => undefined);
    },
  };
}
