import { isIP } from "node:net";
import type { RedisClientType } from "@redis/client";
import type { OutgoingDelivery } from "../../destination.js";
import type { BrokerConnection, BrokerDriver, ConnectionListener, PublishReceipt } from "../broker-driver.js";
import { brokerMessage, type BrokerMessage } from "../broker-message.js";
import { parseRedisUrl, type RedisTarget } from "./redis-url.js";

/** How long opening a connection (TCP, TLS, AUTH, SELECT) may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** The stream entry field that holds the body; every other field is a header. */
export const REDIS_BODY_FIELD = "body";

/** One Redis connection, its database selected. */
export interface RedisBrokerConnection extends BrokerConnection {
  client: RedisClientType;
}

let client: Promise<typeof import("@redis/client")> | undefined;
/**
 * The Redis client, loaded on first use: a hub without Redis subscriptions does not pay for its import.
 * node-redis (`@redis/client` 5, the core of `redis` without its module packages) over ioredis 5, by measurement:
 * XADD of a 400-byte entry with 8 in flight, 68–75k/s at 7–8 µs of client CPU each against 26k/s at 20 µs (it
 * pipelines what is in flight); one at a time both near 12–16k/s.
 */
const loadClient = () => (client ??= import("@redis/client"));

/**
 * Redis: `redis://[user:pass@]host[:6379]/<db>?stream=S[&maxlen=N]` is one XADD per delivery (the headers as entry
 * fields beside `body`), success the entry id it returns; `…?channel=C` is one PUBLISH of `{"headers":…,"body":…}`,
 * success once Redis took it, which is not durable: a subscriber that is not connected never sees it. `rediss://`
 * for TLS. Redis drops no duplicates: a resend carries the same `webhook-id` for the consumer to drop.
 */
export const redisDriver: BrokerDriver<RedisTarget, RedisBrokerConnection> = {
  name: "redis",
  schemes: ["redis", "rediss"],

  parseUrl: parseRedisUrl,

  async connect(target: RedisTarget, listener: ConnectionListener): Promise<RedisBrokerConnection> {
    const { createClient } = await loadClient();
    const { endpoint } = target;
    const redis = createClient({
      socket: {
        host: endpoint.host,
        port: endpoint.port,
        // SNI takes a host name only (an IP literal there is deprecated); the certificate is checked either way.
        ...(target.tls ? { tls: true as const, ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}) } : {}),
        connectTimeout: CONNECT_TIMEOUT_MS,
        // The pool reconnects (with backoff, and the target guard checked again), not the client.
        reconnectStrategy: false,
      },
      ...(endpoint.password !== "" ? { username: endpoint.username || undefined, password: endpoint.password } : {}),
      database: target.db,
      // Fail a send at once while disconnected, rather than queueing it for a reconnect that never comes.
      disableOfflineQueue: true,
    }) as RedisClientType;
    let connected = false;
    let reported = false;
    let lastError: unknown;
    // Without a listener an 'error' event would be thrown: every failure is reported through the pool instead.
    redis.on("error", (error: unknown) => {
      lastError = error;
      // With reconnect off, a lost socket leaves the client closed: the pool opens a new one.
      if (!reported && connected && !redis.isOpen) {
        reported = true;
        listener.closed(error);
      }
    });
    try {
      await redis.connect();
    } catch (error) {
      if (redis.isOpen) redis.destroy();
      throw new Error(redisErrorText(error ?? lastError));
    }
    connected = true;
    return {
      client: redis,
      async close() {
        reported = true;
        // Not the graceful close(): it waits for every reply and never settles if the socket dies meanwhile. The
        // pool closes a connection once nothing sends on it (the hub stops its dispatcher first); a send still in
        // flight fails and is retried.
        if (redis.isOpen) redis.destroy();
      },
    };
  },

  async publish(connection: RedisBrokerConnection, target: RedisTarget, delivery: OutgoingDelivery, timeoutMs: number): Promise<PublishReceipt> {
    const message = brokerMessage(delivery);
    const command = target.mode === "stream" ? xaddCommand(target, message) : ["PUBLISH", target.name, channelMessage(message)];
    // The error is made when the time is up, not per publish: capturing its stack costs some 2-3 µs.
    let timedOut: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject((timedOut = new Error(`timeout after ${timeoutMs} ms waiting for the ${command[0]} reply on ${target.address}`))),
        timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([connection.client.sendCommand(command), timeout]);
      return {
        excerpt: JSON.stringify(target.mode === "stream" ? { stream: target.name, id: String(reply) } : { channel: target.name, receivers: Number(reply) }),
      };
    } catch (error) {
      if (timedOut !== undefined && error === timedOut) throw error;
      throw new Error(`${command[0]} to ${target.address} failed: ${redisErrorText(error)}`);
    } finally {
      clearTimeout(timer);
    }
  },

  async check({ client: redis }: RedisBrokerConnection, target: RedisTarget): Promise<string | undefined> {
    try {
      if (target.mode === "stream") {
        const type = String(await redis.sendCommand(["TYPE", target.name]));
        return type === "none" || type === "stream"
          ? undefined
          : `key ${target.name} on ${target.endpointLabel} holds a ${type}, not a stream: deliveries will fail until it is removed`;
      }
      const [, subscribers] = (await redis.sendCommand(["PUBSUB", "NUMSUB", target.name])) as [unknown, unknown];
      return Number(subscribers) > 0
        ? undefined
        : `no subscriber on ${target.address} on ${target.endpointLabel}: a message published while none listens is lost`;
    } catch {
      // A user without the permission for TYPE or PUBSUB: the check is advice only.
      return undefined;
    }
  },
};

/**
 * `XADD <stream> [MAXLEN ~ N] * <header> <value> … body <body>`: one field per header (names as
 * {@link brokerMessage} gives them), then the body. A subscription header named `body` is left out.
 */
function xaddCommand(target: RedisTarget, { body, headers }: BrokerMessage): string[] {
  const command = ["XADD", target.name];
  if (target.maxlen !== undefined) command.push("MAXLEN", "~", String(target.maxlen));
  command.push("*");
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== REDIS_BODY_FIELD) command.push(name, value);
  command.push(REDIS_BODY_FIELD, body);
  return command;
}

/** PUBLISH has no headers: the message is `{"headers":{…},"body":<the body JSON>}`. */
function channelMessage({ body, headers }: BrokerMessage): string {
  return `{"headers":${JSON.stringify(headers)},"body":${body}}`;
}

/** The client's error message, with its code when the message lacks it (`ECONNREFUSED 127.0.0.1:6379`). */
function redisErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message || error.name;
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}
