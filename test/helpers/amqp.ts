import { randomBytes } from "node:crypto";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";

/** The shared RabbitMQ (`.ci/run` starts it), default vhost, guest/guest. */
export const AMQP_PORT = 5672;
export const AMQP_URL = `amqp://guest:guest@127.0.0.1:${AMQP_PORT}`;

/** A fresh name suffix for exchanges, queues and topics. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/**
 * A uniquely named exchange with a queue bound to it, consumed from the start: `messages()` is everything the queue
 * got so far, in the broker's order. `close()` deletes both.
 */
export interface TestExchange {
  exchange: string;
  queue: string;
  /** The binding key (for a direct exchange, the routing key that reaches the queue; a pattern for a topic one). */
  bindingKey: string;
  channel: Channel;
  messages(): ConsumeMessage[];
  close(): Promise<void>;
}

/**
 * Declares exchange `sbtest.x_…` (`type`, default direct) and a queue bound to it with `bindingKey`, and consumes it.
 * @example const x = await createTestExchange(); const url = `amqp://guest:guest@127.0.0.1:5672/?exchange=${x.exchange}&routing_key=${x.bindingKey}`;
 */
export async function createTestExchange(options: { type?: "direct" | "topic" | "fanout"; bindingKey?: string } = {}): Promise<TestExchange> {
  const connection: ChannelModel = await amqp.connect(AMQP_URL);
  connection.on("error", () => undefined);
  const channel = await connection.createChannel();
  const exchange = uniqueName("sbtest.x");
  const bindingKey = options.bindingKey ?? uniqueName("rk");
  await channel.assertExchange(exchange, options.type ?? "direct", { durable: false, autoDelete: false });
  const { queue } = await channel.assertQueue(uniqueName("sbtest.q"), { durable: false, exclusive: true });
  await channel.bindQueue(queue, exchange, bindingKey);
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m && received.push(m), { noAck: true });
  return {
    exchange,
    queue,
    bindingKey,
    channel,
    messages: () => [...received],
    async close() {
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.deleteExchange(exchange).catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}

/** A message's AMQP headers as strings, names lowercased, with the `content-type` property beside them. */
export function headersOf(m: ConsumeMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.properties.headers ?? {}))
    headers[name.toLowerCase()] = Buffer.isBuffer(value) ? value.toString() : String(value);
  if (m.properties.contentType !== undefined) headers["content-type"] = String(m.properties.contentType);
  return headers;
}
