import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import type { IClientOptions, IClientPublishOptions, MqttClient } from "mqtt";
import type { OutgoingDelivery } from "../../destination.js";
import type { BrokerConnection, BrokerDriver, BrokerTarget, ConnectionListener, PublishReceipt } from "../broker-driver.js";
import { brokerMessage } from "../broker-message.js";
import { brokerEndpoint, invalidDestinationUrl, type BrokerEndpoint } from "../broker-url.js";

/** The MQTT port when an `mqtt://` url has none. */
export const MQTT_DEFAULT_PORT = 1883;
/** The MQTT-over-TLS port when an `mqtts://` url has none. */
export const MQTTS_DEFAULT_PORT = 8883;
/** How long opening a connection (TCP, TLS and the CONNACK) may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Seconds between keep-alive pings: a broker that stops answering is noticed within about 1.5 of them. */
const KEEPALIVE_S = 15;
/** The longest topic name MQTT can carry, in UTF-8 bytes. */
const MAX_TOPIC_BYTES = 65_535;
/** MQTT 5's Receive Maximum when the broker states none. */
const MAX_RECEIVE_MAXIMUM = 65_535;
/** CONNACK codes that mean "not this protocol version": 3.1.1's 0x01 and MQTT 5's 0x84. */
const PROTOCOL_REFUSALS = new Set([0x01, 0x84]);

/** MQTT protocol levels: 5 (MQTT 5.0) or 4 (3.1.1). */
export type MqttProtocolVersion = 5 | 4;

/** An `mqtt://` url, parsed: the endpoint and the topic published to. */
export interface MqttTarget extends BrokerTarget {
  endpoint: BrokerEndpoint;
  tls: boolean;
  topic: string;
}

/** One MQTT client connection, at the protocol level the broker accepted. */
export interface MqttBrokerConnection extends BrokerConnection {
  client: MqttClient;
  protocolVersion: MqttProtocolVersion;
  /** PUBACK reason codes by packet id, noted as they arrive: the client's publish callback does not carry them. */
  pubackReasons: Map<number, number>;
  /** Publishes waiting for their PUBACK, failed at once when the connection is lost (the client would leave them hanging). */
  inFlight: Set<(why: string) => void>;
  /** Sends allowed before a PUBACK: the broker's Receive Maximum, which a strict broker enforces by disconnecting. */
  window: SendWindow;
}

/** A count of send slots and the sends waiting for one, in order. */
export class SendWindow {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  /** Runs `send` now if a slot is free, else once one is; `send` must call {@link release} when its PUBACK is in. */
  take(send: () => void): void {
    if (this.free > 0) {
      this.free--;
      send();
    } else this.waiting.push(send);
  }

  /** Hands the slot to the next waiting send, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

let client: Promise<typeof import("mqtt")> | undefined;
/** The MQTT client, loaded on first use: a hub without MQTT subscriptions does not pay for its import. */
const loadClient = () => (client ??= import("mqtt"));

/**
 * MQTT: `mqtt://[user:pass@]host[:1883]/<topic>` (`mqtts://`, port 8883, for TLS). Each delivery is one QoS 1
 * publish; success is the PUBACK (under MQTT 5, a PUBACK reason code of 0x80 or more is a failure with that reason).
 * MQTT 5 user properties carry the headers; a broker that only speaks 3.1.1 gets the body alone. MQTT has no
 * server-side deduplication: a retried delivery may arrive twice, and consumers drop it by `webhook-id`.
 */
export const mqttDriver: BrokerDriver<MqttTarget, MqttBrokerConnection> = {
  name: "mqtt",
  schemes: ["mqtt", "mqtts"],

  parseUrl(url: URL): MqttTarget {
    const scheme = url.protocol.slice(0, -1);
    const tls = scheme === "mqtts";
    const endpoint = brokerEndpoint(url, tls ? MQTTS_DEFAULT_PORT : MQTT_DEFAULT_PORT);
    // An empty fragment leaves `hash` empty: `mqtt://broker/orders/#` (a wildcard, to its author) must not pass as `orders/`.
    if (url.hash !== "" || url.href.includes("#")) {
      throw invalidDestinationUrl(`${scheme} url has a "#": a topic to publish to has no wildcards (+ #), and the url no fragment`);
    }
    if (url.search !== "" || url.href.includes("?")) throw invalidDestinationUrl(`${scheme} url takes no query or fragment: ${scheme}://host:port/<topic>`);
    let topic: string;
    try {
      topic = decodeURIComponent(url.pathname.slice(1));
    } catch {
      throw invalidDestinationUrl(`${scheme} url path is not valid percent-encoding`);
    }
    if (topic === "") throw invalidDestinationUrl(`${scheme} url needs a topic as its path: ${scheme}://host:port/<topic>`);
    if (/[+#]/u.test(topic)) {
      throw invalidDestinationUrl(`${scheme} url topic ${JSON.stringify(topic)} is not a topic to publish to: no wildcards (+ #)`);
    }
    if (topic.includes("\u0000")) throw invalidDestinationUrl(`${scheme} url topic may not contain the null character`);
    if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) throw invalidDestinationUrl(`${scheme} url topic is longer than ${MAX_TOPIC_BYTES} bytes`);
    return { endpointKey: endpoint.key, endpointLabel: endpoint.label, host: endpoint.host, address: `topic ${topic}`, endpoint, tls, topic };
  },

  async connect(target: MqttTarget, listener: ConnectionListener): Promise<MqttBrokerConnection> {
    const mqtt = await loadClient();
    let protocolVersion: MqttProtocolVersion = 5;
    let mqttClient: MqttClient;
    try {
      mqttClient = await openClient(mqtt.connect, target, protocolVersion);
    } catch (error) {
      if (!PROTOCOL_REFUSALS.has(connackCode(error) ?? -1)) throw new Error(mqttErrorText(error));
      // A broker that does not speak MQTT 5: 3.1.1 it is, without properties.
      protocolVersion = 4;
      mqttClient = await openClient(mqtt.connect, target, protocolVersion).catch((again: unknown) => {
        throw new Error(mqttErrorText(again));
      });
    }
    return watchConnection(mqttClient, protocolVersion, listener);
  },

  async publish(connection: MqttBrokerConnection, target: MqttTarget, delivery: OutgoingDelivery, timeoutMs: number): Promise<PublishReceipt> {
    const { client: mqttClient, protocolVersion } = connection;
    // Not connected, the client would queue the message for a reconnect that never comes (the pool reconnects).
    if (!mqttClient.connected) throw new Error(`${target.endpointLabel} is not connected`);
    const { body, headers } = brokerMessage(delivery);
    const options: IClientPublishOptions = { qos: 1, retain: false };
    if (protocolVersion === 5) options.properties = { userProperties: headers, contentType: "application/json", payloadFormatIndicator: true };
    const reason = await new Promise<number | undefined>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined, code?: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        connection.inFlight.delete(lost);
        if (error) reject(error);
        else resolve(code);
      };
      const lost = (why: string) => settle(new Error(`${why} before the PUBACK on ${target.address}`));
      const timer = setTimeout(() => settle(new Error(`timeout after ${timeoutMs} ms waiting for the PUBACK on ${target.address}`)), timeoutMs);
      connection.inFlight.add(lost);
      connection.window.take(() => {
        // Timed out (or lost) while waiting for a slot: not sent, so the slot goes on.
        if (settled) return connection.window.release();
        mqttClient.publish(target.topic, body, options, (error, sent) => {
          connection.window.release();
          const code = sent?.messageId === undefined ? undefined : takeReason(connection, sent.messageId);
          settle(error ? new Error(describePublishError(error, target)) : undefined, code);
        });
      });
    });
    return { excerpt: receiptExcerpt(protocolVersion, reason) };
  },

  async check(connection: MqttBrokerConnection, target: MqttTarget): Promise<string | undefined> {
    if (connection.protocolVersion === 5) return undefined;
    return (
      `${target.endpointLabel} speaks MQTT 3.1.1, which has no message properties: messages to ${target.address} carry ` +
      'the body alone, without webhook-id, ce-* or traceparent (body "envelope" carries the event\'s id and attributes)'
    );
  },
};

/** Opens one client at `protocolVersion`; resolves on the CONNACK, rejects on a refusal, an error or the timeout. */
function openClient(connect: typeof import("mqtt").connect, target: MqttTarget, protocolVersion: MqttProtocolVersion): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const mqttClient = connect(clientOptions(target, protocolVersion));
    const cleanUp = () => {
      clearTimeout(timer);
      mqttClient.off("connect", onConnect).off("error", onError).off("close", onClose);
    };
    const fail = (error: unknown) => {
      cleanUp();
      mqttClient.end(true);
      reject(error);
    };
    const onConnect = () => {
      cleanUp();
      resolve(mqttClient);
    };
    const onError = (error: unknown) => fail(error);
    const onClose = () => fail(new Error("the broker closed the connection before its CONNACK"));
    const timer = setTimeout(() => fail(new Error(`no CONNACK within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    mqttClient.on("connect", onConnect).on("error", onError).on("close", onClose);
  });
}

function clientOptions(target: MqttTarget, protocolVersion: MqttProtocolVersion): IClientOptions {
  const { endpoint } = target;
  const options: IClientOptions = {
    protocol: target.tls ? "mqtts" : "mqtt",
    host: endpoint.host,
    port: endpoint.port,
    protocolVersion,
    clientId: `switchboard-${randomBytes(8).toString("hex")}`,
    clean: true,
    keepalive: KEEPALIVE_S,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // The pool reconnects (with backoff, and the target guard checked again), not the client.
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
  };
  if (endpoint.username !== "") options.username = endpoint.username;
  if (endpoint.password !== "") options.password = endpoint.password;
  if (target.tls) {
    options.rejectUnauthorized = true;
    if (isIP(endpoint.host) === 0) options.servername = endpoint.host; // SNI takes names only
  }
  return options;
}

/** Wraps an open client: notes PUBACK reasons, and on a lost connection fails what is in flight and tells the pool. */
function watchConnection(mqttClient: MqttClient, protocolVersion: MqttProtocolVersion, listener: ConnectionListener): MqttBrokerConnection {
  const connection: MqttBrokerConnection = {
    client: mqttClient,
    protocolVersion,
    pubackReasons: new Map(),
    inFlight: new Set(),
    // MQTT 5's CONNACK may lower it from the protocol's 65535; 3.1.1 has no such limit.
    window: new SendWindow(mqttClient.serverProperties?.receiveMaximum ?? MAX_RECEIVE_MAXIMUM),
    close: () => {
      closing = true;
      // A graceful end waits for every PUBACK outstanding, timed-out publishes' too, which may never come.
      const force = !mqttClient.connected || Object.keys(mqttClient.outgoing).length > 0;
      return mqttClient.endAsync(force);
    },
  };
  let closing = false;
  let lastError: Error | undefined;
  mqttClient.on("packetreceive", (packet) => {
    if (packet.cmd === "puback" && packet.messageId !== undefined) connection.pubackReasons.set(packet.messageId, packet.reasonCode ?? 0);
  });
  mqttClient.on("error", (error) => (lastError = new Error(mqttErrorText(error))));
  mqttClient.on("disconnect", (packet) => {
    const code = packet.reasonCode ?? 0;
    lastError = new Error(`the broker sent DISCONNECT: ${reasonText(code)}`);
  });
  mqttClient.once("close", () => {
    const why = lastError?.message ?? "connection closed by the broker";
    for (const fail of [...connection.inFlight]) fail(`connection lost (${why})`);
    connection.inFlight.clear();
    connection.pubackReasons.clear();
    if (!closing) listener.closed(lastError ?? new Error(why));
    mqttClient.end(true);
  });
  return connection;
}

function takeReason(connection: MqttBrokerConnection, messageId: number): number | undefined {
  const reason = connection.pubackReasons.get(messageId);
  connection.pubackReasons.delete(messageId);
  return reason;
}

/**
 * The attempt log's excerpt: the PUBACK's reason under MQTT 5, `{"reason_code":16,"reason":"No matching
 * subscribers"}` telling that nobody was subscribed (MQTT keeps nothing for absent subscribers).
 */
function receiptExcerpt(protocolVersion: MqttProtocolVersion, reason: number | undefined): string {
  if (protocolVersion === 4) return JSON.stringify({ protocol: "3.1.1" });
  const code = reason ?? 0;
  return JSON.stringify({ reason_code: code, reason: REASONS[code] ?? "unknown reason" });
}

/** The attempt's error for a failed publish, naming the topic; never the url (it may carry credentials). */
function describePublishError(error: Error, target: MqttTarget): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "number" && code >= 0x80) return `the broker refused the message on ${target.address}: PUBACK ${reasonText(code)}`;
  return `MQTT publish to ${target.address} failed: ${mqttErrorText(error)}`;
}

/** The reason code of a refused CONNACK, or undefined for any other error. */
function connackCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && error.message.startsWith("Connection refused") && typeof code === "number" ? code : undefined;
}

/** `the broker refused the connection: Not authorized (CONNACK 0x87)`, or the client's error as it is. */
function mqttErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = connackCode(error);
  if (code !== undefined) return `the broker refused the connection: ${error.message.replace(/^Connection refused: /, "")} (CONNACK ${hex(code)})`;
  return error.message || error.name;
}

/** `0x87 Not authorized`. */
function reasonText(code: number): string {
  return `${hex(code)} ${REASONS[code] ?? "unknown reason"}`;
}

const hex = (code: number) => `0x${code.toString(16).padStart(2, "0")}`;

/** MQTT 5 reason names (the spec's) for the codes a PUBACK or DISCONNECT carries. */
const REASONS: Record<number, string> = {
  0x00: "Success",
  0x10: "No matching subscribers",
  0x80: "Unspecified error",
  0x81: "Malformed Packet",
  0x82: "Protocol Error",
  0x83: "Implementation specific error",
  0x87: "Not authorized",
  0x89: "Server busy",
  0x8b: "Server shutting down",
  0x8d: "Keep Alive timeout",
  0x8e: "Session taken over",
  0x90: "Topic Name invalid",
  0x91: "Packet Identifier in use",
  0x93: "Receive Maximum exceeded",
  0x94: "Topic Alias invalid",
  0x95: "Packet too large",
  0x96: "Message rate too high",
  0x97: "Quota exceeded",
  0x98: "Administrative action",
  0x99: "Payload format invalid",
  0x9a: "Retain not supported",
  0x9b: "QoS not supported",
  0x9c: "Use another server",
  0x9d: "Server moved",
  0x9f: "Connection rate exceeded",
  0xa0: "Maximum connect time",
};
