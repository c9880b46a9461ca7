import type { StoredEvent } from "../../../store/store.js";
import type { BrokerTarget } from "../broker-driver.js";
import { brokerEndpoint, invalidDestinationUrl, type BrokerEndpoint } from "../broker-url.js";

/** The AMQP port when the url has none, per scheme. */
export const AMQP_DEFAULT_PORTS: Readonly<Record<string, number>> = Object.freeze({ amqp: 5672, amqps: 5671 });
/** The routing key placeholders: the whole `routing_key` value, replaced per event. */
export const ROUTING_KEY_PLACEHOLDERS = ["{key}", "{topic}"] as const;
/** AMQP short strings (exchange names, routing keys, header names) hold at most this many bytes. */
export const AMQP_SHORTSTR_MAX_BYTES = 255;
/** The query parameters an amqp url takes. */
const PARAMS = new Set(["exchange", "routing_key"]);

/** An `amqp://` url, parsed: the endpoint (with its vhost) and where to publish on it. */
export interface AmqpTarget extends BrokerTarget {
  endpoint: BrokerEndpoint;
  tls: boolean;
  /** Decoded; `/` when the url has no path. */
  vhost: string;
  /** `""` is the default exchange, which routes by queue name. */
  exchange: string;
  /** A fixed routing key, or a placeholder (`{key}`, `{topic}`) taken from each event. */
  routingKey: string;
}

/**
 * Parses `amqp[s]://[user:pass@]host[:port][/<vhost>]?exchange=X&routing_key=Y`. The vhost is the one path segment,
 * percent-decoded (`%2F` is `/`), and `/` when the path is empty. The vhost is part of the endpoint: a connection
 * is opened to one vhost.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` naming what is wrong.
 */
export function parseAmqpUrl(url: URL): AmqpTarget {
  const scheme = url.protocol.slice(0, -1);
  const form = `${scheme}://user:pass@host:port/<vhost>?exchange=<name>&routing_key=<key>`;
  const endpoint = brokerEndpoint(url, AMQP_DEFAULT_PORTS[scheme] ?? AMQP_DEFAULT_PORTS.amqp!);
  if (url.hash !== "") throw invalidDestinationUrl(`${scheme} url takes no fragment: ${form}`);
  const path = url.pathname.replace(/^\//, "");
  if (path.includes("/")) throw invalidDestinationUrl(`${scheme} url path is the vhost, one segment: write a / in the vhost as %2F (${form})`);
  const vhost = decode(path, `${scheme} url vhost`) || "/";
  for (const name of new Set(url.searchParams.keys())) {
    if (!PARAMS.has(name))
      throw invalidDestinationUrl(`${scheme} url parameter ${JSON.stringify(name.slice(0, 40))} is unknown; it takes exchange and routing_key: ${form}`);
    if (url.searchParams.getAll(name).length > 1) throw invalidDestinationUrl(`${scheme} url parameter ${name} is given more than once`);
  }
  const exchange = url.searchParams.get("exchange") ?? "";
  const routingKey = url.searchParams.get("routing_key") ?? "";
  checkShortString(exchange, `${scheme} url exchange`);
  checkShortString(routingKey, `${scheme} url routing_key`);
  if (/^\{.*\}$/su.test(routingKey) && !(ROUTING_KEY_PLACEHOLDERS as readonly string[]).includes(routingKey)) {
    throw invalidDestinationUrl(
      `${scheme} url routing_key ${JSON.stringify(routingKey.slice(0, 40))} is not a placeholder; the placeholders are {key} and {topic}`,
    );
  }
  if (exchange === "" && routingKey === "") {
    throw invalidDestinationUrl(`${scheme} url needs exchange=<name>, or a routing_key naming the queue for the default exchange: ${form}`);
  }
  const vhostSuffix = vhost === "/" ? "" : `/${encodeURIComponent(vhost)}`;
  return {
    endpointKey: `${endpoint.key}/${encodeURIComponent(vhost)}`,
    endpointLabel: `${endpoint.label}${vhostSuffix}`,
    host: endpoint.host,
    address: `exchange ${JSON.stringify(exchange)} (routing key ${JSON.stringify(routingKey)})`,
    endpoint,
    tls: scheme === "amqps",
    vhost,
    exchange,
    routingKey,
  };
}

/**
 * The routing key for one event: the url's fixed key, or the event's key (`{key}`, empty for an event without one)
 * or topic (`{topic}`).
 * @throws Error when it is longer than AMQP allows (the attempt fails with that).
 */
export function routingKeyFor(target: AmqpTarget, event: StoredEvent): string {
  const key = target.routingKey === "{key}" ? (event.key ?? "") : target.routingKey === "{topic}" ? event.topic : target.routingKey;
  const bytes = Buffer.byteLength(key);
  if (bytes > AMQP_SHORTSTR_MAX_BYTES)
    throw new Error(`routing key ${target.routingKey} is ${bytes} bytes for this event; AMQP allows at most ${AMQP_SHORTSTR_MAX_BYTES}`);
  return key;
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalidDestinationUrl(`${what} is not valid percent-encoding`);
  }
}

function checkShortString(value: string, what: string): void {
  const bytes = Buffer.byteLength(value);
  if (bytes > AMQP_SHORTSTR_MAX_BYTES) throw invalidDestinationUrl(`${what} is ${bytes} bytes; AMQP allows at most ${AMQP_SHORTSTR_MAX_BYTES}`);
}
