/**
 * The broker side of the destinations bench: a fresh sink per round (a JetStream stream, a durable RabbitMQ queue, an
 * MQTT topic with a subscriber, a Redis stream) and its count, read with the broker's own means (stream info, the
 * queue's message count, the subscriber's tally, XLEN). Runs in a bench child of its own (a `bench/worker.ts` named
 * "counter"), so polling the count does not load the client or the hub.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { nowAbsMs } from "./receiver.js";

/** The broker kinds the destinations bench measures. */
export type BrokerKind = "nats" | "amqp" | "mqtt" | "redis";

/** The shared local brokers (`.ci/run` starts them). */
export const BROKER_PORTS: Record<BrokerKind, number> = { nats: 4222, amqp: 5672, mqtt: 1883, redis: 6379 };

/** The process name of each kind's server, as /proc/<pid>/comm has it (RabbitMQ runs in the Erlang VM). */
const BROKER_COMMANDS: Record<BrokerKind, string> = { nats: "nats-server", amqp: "beam.smp", mqtt: "mosquitto", redis: "redis-server" };

/** The pid of the kind's local server, found by its process name, for its CPU use; undefined when not found or ambiguous. */
export function brokerPid(kind: BrokerKind): number | undefined {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === BROKER_COMMANDS[kind]) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

/** Where a sink is: what the hub's subscription url and the bare loop both publish to. */
export interface SinkSpec {
  kind: BrokerKind;
  /** The subject, queue, topic or stream key. */
  name: string;
  /** The subscription url of the hub arm. */
  url: string;
}

interface Sink {
  spec: SinkSpec;
  count(): Promise<number>;
  close(): Promise<void>;
}

let sink: Sink | undefined;
/** A count that has not moved for this long has stopped short. */
const STALL_MS = 10_000;

function unique(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** Creates the sink of one round (empty, uniquely named); the previous one must have been closed. */
export async function sinkCreate(args: { kind: BrokerKind }): Promise<SinkSpec> {
  if (sink) throw new Error("a sink is already open");
  sink = await openSink(args.kind);
  return sink.spec;
}

/**
 * Polls the sink's count every `pollMs` until it reaches `count`; resolves with the absolute time (ms) it was first
 * seen there. Rejects after `timeoutMs`, saying how far it got.
 */
export async function sinkWait(args: { count: number; pollMs: number; timeoutMs: number }): Promise<{ atMs: number; seen: number }> {
  const s = sink ?? fail("no sink open");
  const t0 = performance.now();
  let last = -1;
  let lastMovedAt = t0;
  for (;;) {
    const seen = await s.count();
    if (seen >= args.count) return { atMs: nowAbsMs(), seen };
    const now = performance.now();
    if (seen !== last) [last, lastMovedAt] = [seen, now];
    // A count that stops short (a broker dropping messages to a slow subscriber) fails now rather than at the timeout.
    const stalled = seen > 0 && now - lastMovedAt > STALL_MS;
    if (stalled || now - t0 > args.timeoutMs) {
      throw new Error(
        `${s.spec.kind} sink ${s.spec.name} holds ${seen} of ${args.count} after ${Math.round(now - t0)} ms${stalled ? ` (no change for ${STALL_MS} ms)` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, args.pollMs));
  }
}

/** Deletes the sink (stream, queue, key) and closes its connection. */
export async function sinkClose(): Promise<void> {
  const s = sink;
  sink = undefined;
  await s?.close();
}

function fail(message: string): never {
  throw new Error(message);
}

async function openSink(kind: BrokerKind): Promise<Sink> {
  const host = `127.0.0.1:${BROKER_PORTS[kind]}`;
  switch (kind) {
    case "nats": {
      const { connect } = await import("nats");
      const name = unique("SBBENCH").toUpperCase();
      const subject = `sbbench.${name.toLowerCase()}`;
      const nc = await connect({ servers: host });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name, subjects: [subject] });
      return {
        spec: { kind, name: subject, url: `nats://${host}/${subject}` },
        count: async () => (await jsm.streams.info(name)).state.messages,
        async close() {
          await jsm.streams.delete(name).catch(() => undefined);
          await nc.close();
        },
      };
    }
    case "amqp": {
      const amqp = await import("amqplib");
      const connection = await amqp.connect(`amqp://guest:guest@${host}`);
      connection.on("error", () => undefined);
      const channel = await connection.createChannel();
      const queue = unique("sbbench.q");
      // Durable, so that a confirm of a persistent message means it is stored, as in production.
      await channel.assertQueue(queue, { durable: true });
      return {
        // The default exchange routes by queue name.
        spec: { kind, name: queue, url: `amqp://guest:guest@${host}/?routing_key=${encodeURIComponent(queue)}` },
        count: async () => (await channel.checkQueue(queue)).messageCount,
        async close() {
          await channel.deleteQueue(queue).catch(() => undefined);
          await connection.close().catch(() => undefined);
        },
      };
    }
    case "mqtt": {
      const mqtt = await import("mqtt");
      const topic = `sbbench/${unique("t")}`;
      const client = await mqtt.connectAsync(`mqtt://${host}`, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      let received = 0;
      client.on("message", () => received++);
      // QoS 0: Mosquitto writes these straight to the socket. At QoS 1 a counter that fell behind by more than its
      // max_queued_messages (1000 by default) lost messages, and the round never reached its count.
      await client.subscribeAsync(topic, { qos: 0 });
      return {
        spec: { kind, name: topic, url: `mqtt://${host}/${topic}` },
        count: async () => received,
        close: () => client.endAsync(true),
      };
    }
    case "redis": {
      const { createClient } = await import("@redis/client");
      const client = createClient({ socket: { host: "127.0.0.1", port: BROKER_PORTS.redis } });
      client.on("error", () => undefined);
      await client.connect();
      const key = unique("sbbench.stream");
      return {
        spec: { kind, name: key, url: `redis://${host}/0?stream=${encodeURIComponent(key)}` },
        count: async () => Number(await client.sendCommand(["XLEN", key])),
        async close() {
          await client.sendCommand(["DEL", key]).catch(() => undefined);
          client.destroy();
        },
      };
    }
  }
}
