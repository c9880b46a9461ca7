/**
 * Destinations beyond HTTP: the registry of kinds by url scheme, the router the dispatcher sends through, the
 * broker connection pool, and the drivers. docs/destinations.md describes the kinds and how to add one.
 */
export type { BrokerConnection, BrokerDriver, BrokerTarget, ConnectionListener, PublishReceipt } from "./broker-driver.js";
export { brokerMessage, type BrokerMessage } from "./broker-message.js";
export {
  URL_CREDENTIAL_MASK,
  brokerEndpoint,
  guardBrokerHost,
  hasMaskedCredential,
  invalidDestinationUrl,
  maskUrlCredentials,
  restoreMaskedCredentials,
  type BrokerEndpoint,
} from "./broker-url.js";
export { ConnectionPool, MAX_BACKOFF_MS, MIN_BACKOFF_MS, type ConnectionPoolOptions, type EndpointHealth } from "./connection-pool.js";
export { DestinationRouter, type DestinationRouterOptions } from "./destination-router.js";
export { amqpDriver } from "./amqp/amqp-driver.js";
export { AMQP_DEFAULT_PORTS, type AmqpTarget } from "./amqp/amqp-url.js";
export { natsDriver, NATS_DEFAULT_PORT, type NatsTarget } from "./nats/nats-driver.js";
export { mqttDriver, MQTT_DEFAULT_PORT, MQTTS_DEFAULT_PORT, type MqttTarget } from "./mqtt/mqtt-driver.js";
export { redisDriver, REDIS_BODY_FIELD } from "./redis/redis-driver.js";
export { REDIS_DEFAULT_PORT, type RedisTarget } from "./redis/redis-url.js";
export {
  BROKER_DRIVERS,
  brokerDriverFor,
  destinationKindOf,
  destinationKinds,
  maskDestinationUrl,
  restoreMaskedDestinationUrl,
  supportedSchemes,
  validateDestinationUrl,
} from "./registry.js";

import type { EndpointHealth } from "./connection-pool.js";

/**
 * The broker part of a `/ready` reply: `{destinations: [...]}` when broker endpoints are in use, else nothing (a
 * hub with webhooks only answers exactly as before). A broker that is down does not make the hub unready: its
 * deliveries fail and are retried; this is where operators see why. `/ready` is unauthenticated, so unless
 * `detailed` (auth off) each endpoint shows only its kind, state and subscription count: hosts and errors are for
 * `GET /api/destinations`.
 */
export function destinationsReadiness(
  destinations: { health(): EndpointHealth[] },
  detailed: boolean,
): { destinations?: Array<EndpointHealth | Pick<EndpointHealth, "kind" | "state" | "subscriptions">> } {
  const health = destinations.health();
  if (health.length === 0) return {};
  return { destinations: detailed ? health : health.map(({ kind, state, subscriptions }) => ({ kind, state, subscriptions })) };
}
