import type { OutgoingDelivery } from "../destination.js";

/**
 * The seam every broker kind plugs into (NATS JetStream today; Redis, RabbitMQ, MQTT next). A driver knows its URL
 * form, how to open one connection and how to publish one delivery over it. Everything else is shared: the
 * registry ({@link ./registry.ts}) picks the driver by URL scheme, the target guard checks the host, the
 * {@link ./connection-pool.ts ConnectionPool} shares one connection per endpoint and reconnects with backoff, and
 * the {@link ./destination-router.ts DestinationRouter} turns whatever `publish` throws into a failed attempt.
 * Retries, dead letters, ordering, `max_in_flight`, `rate_limit`, the attempt log and metrics come from the
 * dispatcher, as for webhooks. docs/destinations.md ("Adding a kind") walks through it.
 */

/** What a driver's `parseUrl` makes of a subscription url: where its endpoint is, and what to publish to there. */
export interface BrokerTarget {
  /** The pool key: scheme, host, port and credentials. Subscriptions with the same key share one connection. */
  endpointKey: string;
  /** The endpoint as operators see it (`nats://broker:4222`): no credentials, safe to log and show. */
  endpointLabel: string;
  /** Host name or IP literal (without IPv6 brackets), checked by the target guard before each connect. */
  host: string;
  /** Where the message goes on that endpoint, for errors and logs (`subject orders.created`). No credentials. */
  address: string;
}

/** One open connection to a broker endpoint, owned by the pool. */
export interface BrokerConnection {
  /** Closes it for good; the pool calls it once no subscription uses the endpoint, and on hub close. */
  close(): Promise<void>;
}

/** What a connection reports to the pool after it opened, so that `/ready` and sends see its state. */
export interface ConnectionListener {
  /** The client lost the broker and is reconnecting on its own (`error` says why). */
  disconnected(error?: unknown): void;
  /** The client is back. */
  reconnected(): void;
  /** The client gave up or the broker closed it: the pool opens a new connection, with backoff. */
  closed(error?: unknown): void;
}

/**
 * A broker kind. Implement this, add the driver to `BROKER_DRIVERS` in `registry.ts`, and the scheme works in the
 * API, the CLI and the docs' URL form.
 * @typeParam T what `parseUrl` returns for this kind.
 * @typeParam C the open connection.
 */
export interface BrokerDriver<T extends BrokerTarget = BrokerTarget, C extends BrokerConnection = BrokerConnection> {
  /** Kind name in logs and `/ready` (`nats`). */
  readonly name: string;
  /** URL schemes, without `:`, that pick this driver (`nats`, `nats+tls`). */
  readonly schemes: readonly string[];
  /**
   * Parses and checks a url of this kind, without any I/O. Credentials in the url are allowed; they go into
   * `endpointKey` only.
   * @throws HubError `SB_SUBSCRIPTION_INVALID` naming what is wrong.
   */
  parseUrl(url: URL): T;
  /**
   * Opens one connection to the target's endpoint (the target guard has already passed). Rejects when it cannot;
   * afterwards reports through `listener`. The client may reconnect on its own; if it gives up it calls `closed`.
   */
  connect(target: T, listener: ConnectionListener): Promise<C>;
  /**
   * Publishes one delivery and resolves once the broker confirmed it (what counts as success for the kind). The
   * message id is `delivery.deliveryId`, the same on every retry, so the broker or consumer can drop duplicates.
   * Throws (or rejects) on any failure; the message becomes the attempt's error. Must give up after `timeoutMs`.
   */
  publish(connection: C, target: T, delivery: OutgoingDelivery, timeoutMs: number): Promise<PublishReceipt>;
  /**
   * Optional cheap check when a subscription starts (`NATS: a stream covers the subject`): a warning to log, or
   * undefined. Never decides anything: a failing send still is what counts.
   */
  check?(connection: C, target: T): Promise<string | undefined>;
}

/** What the broker answered, kept as the attempt's response excerpt (`{"stream":"ORDERS","seq":42}`). */
export interface PublishReceipt {
  excerpt: string | null;
}
