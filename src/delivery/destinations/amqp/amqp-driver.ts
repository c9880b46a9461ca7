import type { ChannelModel, Options } from "amqplib";
import type { OutgoingDelivery } from "../../destination.js";
import type { BrokerDriver, ConnectionListener, PublishReceipt } from "../broker-driver.js";
import { brokerMessage } from "../broker-message.js";
import { AmqpConfirmTimeout, AmqpConnection } from "./amqp-connection.js";
import { AMQP_SHORTSTR_MAX_BYTES, parseAmqpUrl, routingKeyFor, type AmqpTarget } from "./amqp-url.js";

/** How long opening a connection (TCP, TLS and the AMQP handshake) may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Heartbeat asked of the broker (seconds): a silent broker is noticed within two of them. */
const HEARTBEAT_S = 10;

let client: Promise<typeof import("amqplib")> | undefined;
/** amqplib, loaded on first use: a hub without RabbitMQ subscriptions does not pay for its import. */
const loadClient = () => (client ??= import("amqplib"));

/**
 * RabbitMQ (AMQP 0-9-1): `amqp[s]://user:pass@host[:port]/<vhost>?exchange=X&routing_key=Y`. Each delivery is one
 * persistent, `mandatory` publish on a confirm channel; success is the publisher confirm. A message the exchange
 * cannot route (`basic.return`) fails the attempt, and so does a missing exchange (the broker closes that channel;
 * the next publish opens another). `message-id` is the delivery id.
 */
export const amqpDriver: BrokerDriver<AmqpTarget, AmqpConnection> = {
  name: "amqp",
  schemes: ["amqp", "amqps"],

  parseUrl: parseAmqpUrl,

  async connect(target: AmqpTarget, listener: ConnectionListener): Promise<AmqpConnection> {
    const amqp = await loadClient();
    const { endpoint } = target;
    const options: Options.Connect = {
      protocol: target.tls ? "amqps" : "amqp",
      hostname: endpoint.host,
      port: endpoint.port,
      // amqplib percent-decodes the vhost it is given.
      vhost: encodeURIComponent(target.vhost),
      heartbeat: HEARTBEAT_S,
    };
    // Without credentials in the url amqplib uses guest/guest, as the AMQP URI spec has it.
    if (endpoint.username !== "" || endpoint.password !== "") Object.assign(options, { username: endpoint.username, password: endpoint.password });
    let model: ChannelModel;
    try {
      model = await amqp.connect(options, { timeout: CONNECT_TIMEOUT_MS, clientProperties: { connection_name: "switchboard" } });
    } catch (error) {
      // amqplib drops the reason of a refused connection.open: the vhost is missing or the user may not use it.
      if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test((error as Error).message)) {
        throw new Error(`the broker refused to open vhost ${JSON.stringify(target.vhost)}: it does not exist, or the user may not use it`);
      }
      throw new Error(amqpErrorText(error));
    }
    let lastError: unknown;
    // Without an 'error' listener a broker closing the connection would be an uncaught exception; 'close' follows.
    model.on("error", (error: unknown) => (lastError = error));
    // The pool reconnects: the client has no reconnect of its own, so 'close' is final for this connection.
    model.on("close", (error?: unknown) => listener.closed(new Error(amqpErrorText(error ?? lastError ?? "connection closed"))));
    return new AmqpConnection(model);
  },

  async publish(connection: AmqpConnection, target: AmqpTarget, delivery: OutgoingDelivery, timeoutMs: number): Promise<PublishReceipt> {
    const { body, headers } = brokerMessage(delivery);
    const { "content-type": contentType, ...table } = headers;
    let routingKey = target.routingKey;
    try {
      routingKey = routingKeyFor(target, delivery.event);
      const long = Object.keys(table).find((name) => Buffer.byteLength(name) > AMQP_SHORTSTR_MAX_BYTES);
      if (long !== undefined)
        throw new Error(`header name ${JSON.stringify(long.slice(0, 40))}… is longer than the ${AMQP_SHORTSTR_MAX_BYTES} bytes AMQP allows`);
      const message = {
        exchange: target.exchange,
        routingKey,
        body: Buffer.from(body),
        options: { messageId: delivery.deliveryId, contentType, headers: table },
      };
      await connection.publish(message, timeoutMs);
      return { excerpt: JSON.stringify({ confirmed: true, exchange: target.exchange, routing_key: routingKey }) };
    } catch (error) {
      const where = addressOf(target, routingKey);
      if (error instanceof AmqpConfirmTimeout) throw new Error(`timeout after ${timeoutMs} ms waiting for the publisher confirm on ${where}`);
      throw new Error(`publish to ${where} failed: ${(error as Error).message}`);
    }
  },

  async check(connection: AmqpConnection, target: AmqpTarget): Promise<string | undefined> {
    // The default exchange always exists.
    if (target.exchange === "") return undefined;
    const missing = await connection.missingExchange(target.exchange);
    if (missing === undefined) return undefined;
    const vhost = JSON.stringify(target.vhost);
    return `exchange ${JSON.stringify(target.exchange)} does not exist in vhost ${vhost} on ${target.endpointLabel}: deliveries will fail until it is declared (${missing.message.replace(/^Operation failed: \w+; /, "")})`;
  },
};

/** `exchange "orders" (routing key "eu.created")`: where a message went, for errors. */
function addressOf(target: AmqpTarget, routingKey: string): string {
  return `exchange ${JSON.stringify(target.exchange)} (routing key ${JSON.stringify(routingKey)})`;
}

/** amqplib's error text; credentials never appear in it (the url is not passed as a string). */
function amqpErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code !== "" && !error.message.includes(code) ? `${code} ${error.message}` : error.message || error.name;
}
