/**
 * The baselines of the destinations bench: a bare loop of the same client library the hub's driver uses, publishing
 * the same bodies with the same headers (their names and sizes) and the same confirm, `concurrency` at a time, each
 * lane awaiting its confirm before its next publish. Runs in the client process (bench/worker.ts).
 */
import { webhookData } from "./webhook-data.js";
import type { BrokerKind, SinkSpec } from "./broker-sinks.js";
import { BROKER_PORTS } from "./broker-sinks.js";
import { nowAbsMs } from "./receiver.js";

/** What one bare loop measured: its start (absolute ms), when its last confirm came in, and its CPU. */
export interface BareResult {
  startAtMs: number;
  confirmedAtMs: number;
  clientCpuPct: number;
  /** Publishes in flight at once (MQTT: capped by the broker's Receive Maximum, as the hub's driver is). */
  lanes: number;
}

/** The headers the hub sets on a broker message, with values of the same shape and length. */
function headersFor(n: number, topic: string): Record<string, string> {
  const id = n.toString(36).padStart(8, "0");
  return {
    "content-type": "application/json",
    "webhook-id": `dlv_01JBENCH0000000000${id}`,
    "ce-specversion": "1.0",
    "ce-id": `evt_01JBENCH0000000000${id}`,
    "ce-source": `/switchboard/topics/${topic}`,
    "ce-type": topic,
    "ce-time": new Date().toISOString(),
  };
}

/** One publish that resolves on the broker's confirm. */
type Publish = (n: number) => Promise<void>;

interface Publisher {
  publish: Publish;
  /** Publishes it may have in flight (the broker may cap it). */
  lanes(concurrency: number): number;
  close(): Promise<void>;
}

/** Publishes `count` messages to the sink, `concurrency` at a time; resolves when every confirm is in. */
export async function barePublish(args: { sink: SinkSpec; count: number; concurrency: number; topic: string }): Promise<BareResult> {
  const publisher = await openPublisher(args.sink, args.topic);
  try {
    const lanes = publisher.lanes(args.concurrency);
    const cpu0 = process.cpuUsage();
    const startAtMs = nowAbsMs();
    let next = 0;
    const lane = async () => {
      while (next < args.count) await publisher.publish(next++);
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    const confirmedAtMs = nowAbsMs();
    const cpu = process.cpuUsage(cpu0);
    return { startAtMs, confirmedAtMs, clientCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / (confirmedAtMs - startAtMs), lanes };
  } finally {
    await publisher.close();
  }
}

async function openPublisher(sink: SinkSpec, topic: string): Promise<Publisher> {
  const host = "127.0.0.1";
  const port = BROKER_PORTS[sink.kind];
  const kind: BrokerKind = sink.kind;
  const all = (concurrency: number) => concurrency;
  switch (kind) {
    case "nats": {
      const { connect, headers } = await import("nats");
      const nc = await connect({ servers: `${host}:${port}` });
      const js = nc.jetstream();
      const encoder = new TextEncoder();
      return {
        async publish(n) {
          const h = headers();
          const fields = headersFor(n, topic);
          for (const [name, value] of Object.entries(fields)) h.set(name, value);
          await js.publish(sink.name, encoder.encode(webhookData(n)), { msgID: fields["webhook-id"], headers: h, timeout: 10_000 });
        },
        lanes: all,
        close: () => nc.close(),
      };
    }
    case "amqp": {
      const amqp = await import("amqplib");
      const connection = await amqp.connect(`amqp://guest:guest@${host}:${port}`);
      connection.on("error", () => undefined);
      const channel = await connection.createConfirmChannel();
      return {
        publish: (n) =>
          new Promise<void>((resolve, reject) => {
            const { "content-type": contentType, ...table } = headersFor(n, topic);
            const options = { persistent: true, mandatory: true, messageId: table["webhook-id"], contentType, headers: table };
            channel.publish("", sink.name, Buffer.from(webhookData(n)), options, (error) => (error ? reject(error) : resolve()));
          }),
        lanes: all,
        async close() {
          await channel.close().catch(() => undefined);
          await connection.close().catch(() => undefined);
        },
      };
    }
    case "mqtt": {
      const mqtt = await import("mqtt");
      const client = await mqtt.connectAsync(`mqtt://${host}:${port}`, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
      return {
        async publish(n) {
          const properties = { userProperties: headersFor(n, topic), contentType: "application/json", payloadFormatIndicator: true };
          await client.publishAsync(sink.name, webhookData(n), { qos: 1, retain: false, properties });
        },
        // The hub's driver keeps no more unacknowledged than the broker's Receive Maximum: the same here.
        lanes: (concurrency) => Math.min(concurrency, client.serverProperties?.receiveMaximum ?? concurrency),
        close: () => client.endAsync(true),
      };
    }
    case "redis": {
      const { createClient } = await import("@redis/client");
      const client = createClient({ socket: { host, port } });
      client.on("error", () => undefined);
      await client.connect();
      return {
        async publish(n) {
          const command = ["XADD", sink.name, "*"];
          for (const [name, value] of Object.entries(headersFor(n, topic))) command.push(name, value);
          command.push("body", webhookData(n));
          await client.sendCommand(command);
        },
        lanes: all,
        async close() {
          client.destroy();
        },
      };
    }
  }
}
