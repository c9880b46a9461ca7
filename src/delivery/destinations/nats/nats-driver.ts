import type { ConnectionOptions, JetStreamClient, MsgHdrs, NatsConnection } from "nats";
import type { OutgoingDelivery } from "../../destination.js";
import type { BrokerConnection, BrokerDriver, BrokerTarget, ConnectionListener, PublishReceipt } from "../broker-driver.js";
import { brokerMessage } from "../broker-message.js";
import { brokerEndpoint, invalidDestinationUrl, type BrokerEndpoint } from "../broker-url.js";

/** The NATS client port when the url has none. */
export const NATS_DEFAULT_PORT = 4222;
/** How long opening a connection may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** A subject token: no wildcards, no whitespace, not empty. */
const SUBJECT_TOKEN = /^[^\s*>.]+$/u;

/** A `nats://` url, parsed: the endpoint and the JetStream subject published to. */
export interface NatsTarget extends BrokerTarget {
  endpoint: BrokerEndpoint;
  tls: boolean;
  subject: string;
}

/** One NATS connection and its JetStream context. */
export interface NatsBrokerConnection extends BrokerConnection {
  nc: NatsConnection;
  js: JetStreamClient;
  /** The client's header constructor. */
  headers: () => MsgHdrs;
}

let client: Promise<typeof import("nats")> | undefined;
/** The NATS client, loaded on first use: a hub without NATS subscriptions does not pay for its import. */
const loadClient = () => (client ??= import("nats"));

/**
 * NATS JetStream: `nats://[user:pass@|token@]host[:4222]/<subject>` (`nats+tls://` for TLS). Each delivery is one
 * JetStream publish; success is the PubAck. `Nats-Msg-Id` is the delivery id, so JetStream drops a duplicate sent
 * within the stream's duplicate window (a retry after a lost PubAck). No stream covering the subject fails the
 * attempt with that error.
 */
export const natsDriver: BrokerDriver<NatsTarget, NatsBrokerConnection> = {
  name: "nats",
  schemes: ["nats", "nats+tls"],

  parseUrl(url: URL): NatsTarget {
    const scheme = url.protocol.slice(0, -1);
    const endpoint = brokerEndpoint(url, NATS_DEFAULT_PORT);
    // An empty `?` or `#` leaves `search`/`hash` empty, so the href is checked too: `nats://h/orders#` is refused.
    if (url.search !== "" || url.hash !== "" || url.href.includes("?") || url.href.includes("#"))
      throw invalidDestinationUrl(`${scheme} url takes no query or fragment: ${scheme}://host:port/<subject>`);
    let subject: string;
    try {
      subject = decodeURIComponent(url.pathname.slice(1));
    } catch {
      throw invalidDestinationUrl(`${scheme} url path is not valid percent-encoding`);
    }
    if (subject === "") throw invalidDestinationUrl(`${scheme} url needs a subject as its path: ${scheme}://host:port/<subject>`);
    if (!subject.split(".").every((token) => SUBJECT_TOKEN.test(token))) {
      throw invalidDestinationUrl(
        `${scheme} url subject ${JSON.stringify(subject)} is not a subject to publish to: dot-separated tokens, no wildcards (* >) or spaces`,
      );
    }
    return {
      endpointKey: endpoint.key,
      endpointLabel: endpoint.label,
      host: endpoint.host,
      address: `subject ${subject}`,
      endpoint,
      tls: scheme === "nats+tls",
      subject,
    };
  },

  async connect(target: NatsTarget, listener: ConnectionListener): Promise<NatsBrokerConnection> {
    const { connect, headers } = await loadClient();
    let nc: NatsConnection;
    try {
      nc = await connect(connectionOptions(target));
    } catch (error) {
      throw new Error(natsErrorText(error));
    }
    watchStatus(nc, listener).catch(() => undefined);
    nc.closed().then(
      (error) => listener.closed(error ? new Error(natsErrorText(error)) : new Error("connection closed")),
      (error: unknown) => listener.closed(new Error(natsErrorText(error))),
    );
    return { nc, js: nc.jetstream(), headers: () => headers(), close: () => nc.close() };
  },

  async publish(connection: NatsBrokerConnection, target: NatsTarget, delivery: OutgoingDelivery, timeoutMs: number): Promise<PublishReceipt> {
    const { js } = connection;
    const { body, headers } = brokerMessage(delivery);
    const h = connection.headers();
    for (const [name, value] of Object.entries(headers)) h.set(name, value);
    try {
      const ack = await js.publish(target.subject, new TextEncoder().encode(body), { msgID: delivery.deliveryId, headers: h, timeout: timeoutMs });
      return { excerpt: JSON.stringify({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate }) };
    } catch (error) {
      throw new Error(describeNatsError(error, target, timeoutMs));
    }
  },

  async check({ nc }: NatsBrokerConnection, target: NatsTarget): Promise<string | undefined> {
    try {
      const jsm = await nc.jetstreamManager({ timeout: CONNECT_TIMEOUT_MS });
      await jsm.streams.find(target.subject);
      return undefined;
    } catch (error) {
      return `no JetStream stream covers ${target.address} on ${target.endpointLabel}: deliveries will fail until one does (${(error as Error).message})`;
    }
  },
};

function connectionOptions(target: NatsTarget): ConnectionOptions {
  const { endpoint } = target;
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  const options: ConnectionOptions = {
    servers: `${host}:${endpoint.port}`,
    name: "switchboard",
    timeout: CONNECT_TIMEOUT_MS,
    // The pool reconnects (with backoff, and the target guard checked again), not the client.
    reconnect: false,
    // Servers the broker announces are not checked by the target guard: stay on the one in the url.
    ignoreClusterUpdates: true,
    pingInterval: 10_000,
    maxPingOut: 2,
  };
  if (endpoint.password !== "") Object.assign(options, { user: endpoint.username, pass: endpoint.password });
  else if (endpoint.username !== "") options.token = endpoint.username;
  if (target.tls) options.tls = {};
  return options;
}

async function watchStatus(nc: NatsConnection, listener: ConnectionListener): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === "disconnect") listener.disconnected(new Error(`disconnected from ${String(status.data)}`));
    else if (status.type === "reconnect") listener.reconnected();
  }
}

/** The attempt's error for a failed publish, naming the subject; never the url (it may carry credentials). */
function describeNatsError(error: unknown, target: NatsTarget, timeoutMs: number): string {
  const code = (error as { code?: unknown }).code;
  if (code === "503") return `no JetStream stream covers ${target.address} (no responders)`;
  if (code === "TIMEOUT") return `timeout after ${timeoutMs} ms waiting for the JetStream PubAck on ${target.address}`;
  return `JetStream publish to ${target.address} failed: ${natsErrorText(error)}`;
}

/** `CONNECTION_REFUSED: connect ECONNREFUSED 127.0.0.1:4222`: the client's code with the error under it. */
function natsErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const chained = (error as { chainedError?: unknown }).chainedError;
  const under = chained instanceof Error && chained.message && chained.message !== error.message ? `: ${chained.message}` : "";
  return `${error.message || error.name}${under}`;
}
