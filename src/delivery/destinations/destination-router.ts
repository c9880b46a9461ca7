import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Subscription } from "../../store/store.js";
import type { DeliveryOutcome, Destination, OutgoingDelivery } from "../destination.js";
import type { WebhookClient } from "../webhooks/send-webhook.js";
import { webhookDestination } from "../webhooks/webhook-destination.js";
import type { BrokerDriver, BrokerTarget } from "./broker-driver.js";
import { ConnectionPool, type ConnectionPoolOptions, type EndpointHealth } from "./connection-pool.js";
import { brokerDriverFor } from "./registry.js";

/** Options of {@link DestinationRouter}. */
export interface DestinationRouterOptions {
  /** Sends the `http(s)` deliveries. */
  webhookClient: WebhookClient;
  userAgent: string;
  /** `SWITCHBOARD_ALLOW_PRIVATE_TARGETS`, for broker hosts (the webhook client has its own). */
  allowPrivate: boolean;
  log: Logger;
  /** Backoff bounds of broker reconnects (tests shorten them). */
  backoff?: Pick<ConnectionPoolOptions, "minBackoffMs" | "maxBackoffMs">;
}

/** A subscription's broker: its url as parsed, and the driver. */
interface Route {
  url: string;
  driver: BrokerDriver;
  target: BrokerTarget;
}

/**
 * The hub's {@link Destination}: picks the kind of each delivery by its subscription's url scheme. `http(s)` goes to
 * the webhook destination unchanged; a broker scheme to its driver (`registry.ts`) over the pooled connection of
 * its endpoint. A subscription holds its endpoint from {@link open} (its worker starts) to {@link release} (its
 * worker stops for good), so the pool closes a connection once no subscription uses it. A broker that is down is a
 * failed attempt with the reason, and shows in {@link health}.
 */
export class DestinationRouter implements Destination {
  private readonly webhook: Destination;
  private readonly pool: ConnectionPool;
  private readonly routes = new Map<string, Route>();
  /** Subscriptions whose worker runs here (between open and release). */
  private readonly opened = new Set<string>();
  /** Sends in flight for subscriptions not opened here (the retry sweeper's), by subscription. */
  private readonly unopenedSends = new Map<string, number>();
  private readonly log: Logger;

  constructor(options: DestinationRouterOptions) {
    this.webhook = webhookDestination({ client: options.webhookClient, userAgent: options.userAgent });
    this.log = options.log;
    this.pool = new ConnectionPool({ log: options.log, allowPrivate: options.allowPrivate, ...options.backoff });
  }

  send(delivery: OutgoingDelivery): Promise<DeliveryOutcome> {
    const route = this.route(delivery.subscription);
    if (route === undefined) return this.webhook.send(delivery);
    if (route instanceof Error) return Promise.resolve(failure(route.message, 0));
    const id = delivery.subscription.id;
    if (this.opened.has(id)) return this.sendToBroker(route, delivery);
    // No worker here holds the endpoint for it (a retry another node left behind): hold it for this send only.
    this.unopenedSends.set(id, (this.unopenedSends.get(id) ?? 0) + 1);
    return this.sendToBroker(route, delivery).finally(() => {
      const left = (this.unopenedSends.get(id) ?? 1) - 1;
      if (left > 0) this.unopenedSends.set(id, left);
      else {
        this.unopenedSends.delete(id);
        if (!this.opened.has(id)) this.dropRoute(id);
      }
    });
  }

  /** A subscription's worker starts: hold its endpoint's connection, and log the driver's warning if any. */
  open(sub: Subscription): void {
    this.opened.add(sub.id);
    const route = this.route(sub);
    if (route === undefined || route instanceof Error || !route.driver.check) return;
    const { driver, target } = route;
    void this.pool
      .connection(target.endpointKey, sub.timeoutMs)
      .then(async (connection) => {
        if (connection instanceof Error) return;
        const warning = await driver.check!(connection, target).catch((error: unknown) => `check failed: ${(error as Error).message}`);
        if (warning) this.log.warn({ subscriptionId: sub.id, kind: driver.name, endpoint: target.endpointLabel, warning }, "destination check");
      })
      .catch(() => undefined);
  }

  /** This node no longer delivers subscription `id`: its endpoint is released (closed if nobody else uses it). */
  release(subscriptionId: string): void {
    this.opened.delete(subscriptionId);
    if (!this.unopenedSends.has(subscriptionId)) this.dropRoute(subscriptionId); // else the last of those sends does
  }

  /** The broker endpoints in use and their state, for `/ready`. */
  health(): EndpointHealth[] {
    return this.pool.health();
  }

  /** Open (or opening) broker connections, for tests. */
  get connections(): number {
    return this.pool.size;
  }

  /** Closes every broker connection (the webhook client is closed by its owner). */
  close(): Promise<void> {
    this.routes.clear();
    this.opened.clear();
    return this.pool.close();
  }

  private async sendToBroker({ driver, target }: Route, delivery: OutgoingDelivery): Promise<DeliveryOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const timeoutMs = delivery.subscription.timeoutMs;
    try {
      const connection = await this.pool.connection(target.endpointKey, timeoutMs);
      if (connection instanceof Error) return failure(connection.message, elapsed());
      const receipt = await driver.publish(connection, target, delivery, Math.max(1, timeoutMs - elapsed()));
      return { ok: true, status: null, latencyMs: elapsed(), responseExcerpt: receipt.excerpt, error: null, gone: false };
    } catch (error) {
      return failure(error instanceof Error ? error.message : String(error), elapsed());
    }
  }

  /** Lets go of a subscription's endpoint (the pool closes it when nobody else uses it). */
  private dropRoute(subscriptionId: string): void {
    const route = this.routes.get(subscriptionId);
    if (!route) return;
    this.routes.delete(subscriptionId);
    this.pool.release(route.target.endpointKey, subscriptionId);
  }

  /**
   * The broker route of a subscription (parsed once per url, its endpoint acquired), undefined for a webhook, or
   * an Error when the stored url no longer parses.
   */
  private route(sub: Subscription): Route | Error | undefined {
    const known = this.routes.get(sub.id);
    if (known?.url === sub.url) return known;
    const driver = brokerDriverFor(sub.url.slice(0, Math.max(0, sub.url.indexOf(":"))));
    if (known) this.dropRoute(sub.id);
    if (!driver) return undefined;
    let target: BrokerTarget;
    try {
      target = driver.parseUrl(new URL(sub.url));
    } catch (error) {
      return new Error(`invalid ${driver.name} url: ${(error as Error).message}`);
    }
    const route = { url: sub.url, driver, target };
    this.routes.set(sub.id, route);
    this.pool.acquire(driver, target, sub.id);
    return route;
  }
}

function failure(error: string, latencyMs: number): DeliveryOutcome {
  return { ok: false, status: null, latencyMs, responseExcerpt: null, error, gone: false };
}
