import { amqpDriver } from "./amqp/amqp-driver.js";
import type { BrokerDriver } from "./broker-driver.js";
import { URL_CREDENTIAL_MASK, invalidDestinationUrl, maskUrlCredentials, restoreMaskedCredentials } from "./broker-url.js";
import { mqttDriver } from "./mqtt/mqtt-driver.js";
import { natsDriver } from "./nats/nats-driver.js";
import { redisDriver } from "./redis/redis-driver.js";
import { MAX_TARGET_URL_LENGTH, validateTargetHost, validateTargetUrl, type ValidateTargetOptions } from "../webhooks/target-guard.js";

/**
 * The broker kinds, each keyed by its URL schemes. `http`/`https` are not here: they are the webhook destination,
 * handled before this table is looked at. A new broker kind is one more entry (see `broker-driver.ts`).
 */
export const BROKER_DRIVERS: readonly BrokerDriver[] = Object.freeze([
  natsDriver as unknown as BrokerDriver,
  amqpDriver as unknown as BrokerDriver,
  mqttDriver as unknown as BrokerDriver,
  redisDriver as unknown as BrokerDriver,
]);

const WEBHOOK_SCHEMES = ["http", "https"] as const;
const DRIVER_BY_SCHEME = new Map<string, BrokerDriver>(BROKER_DRIVERS.flatMap((d) => d.schemes.map((s) => [s, d] as const)));

/** Every scheme a subscription url may have: `http`, `https`, then the brokers'. */
export function supportedSchemes(): string[] {
  return [...WEBHOOK_SCHEMES, ...DRIVER_BY_SCHEME.keys()];
}

/** The destination kinds, `http` first then each broker driver's name, with the url schemes of each. */
export function destinationKinds(): Array<{ kind: string; schemes: readonly string[] }> {
  return [{ kind: "http", schemes: WEBHOOK_SCHEMES }, ...BROKER_DRIVERS.map((d) => ({ kind: d.name, schemes: d.schemes }))];
}

/**
 * The kind of destination a subscription url names, as the API (`kind`), telemetry and metrics name it: `http` for
 * http(s), a broker driver's name, or else the url's scheme itself (so a kind added elsewhere, such as `function`,
 * is named by its scheme).
 */
export function destinationKindOf(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? "unknown";
  if ((WEBHOOK_SCHEMES as readonly string[]).includes(scheme)) return "http";
  return DRIVER_BY_SCHEME.get(scheme)?.name ?? scheme;
}

/** The broker driver for a url's scheme (`nats:` or `nats`), or undefined for http(s) and unknown schemes. */
export function brokerDriverFor(protocol: string): BrokerDriver | undefined {
  return DRIVER_BY_SCHEME.get(protocol.endsWith(":") ? protocol.slice(0, -1) : protocol);
}

/**
 * Checks a subscription url of any kind and returns the form to store. `http(s)` is a webhook, checked as before
 * ({@link validateTargetUrl}); a broker scheme is parsed by its driver and its host passes the same target guard.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` for a malformed url or an unknown scheme (the message lists the
 *   supported ones); `SB_WEBHOOK_TARGET_FORBIDDEN` for a private or unresolvable host.
 * @example await validateDestinationUrl("nats://127.0.0.1:4222/orders.created", { allowPrivate: true })
 */
export async function validateDestinationUrl(url: string, options: ValidateTargetOptions): Promise<string> {
  const scheme = typeof url === "string" ? /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() : undefined;
  const driver = scheme === undefined ? undefined : brokerDriverFor(scheme);
  if (!driver) {
    if (scheme !== undefined && !(WEBHOOK_SCHEMES as readonly string[]).includes(scheme) && !url.startsWith("//")) {
      throw invalidDestinationUrl(`url scheme ${JSON.stringify(scheme.slice(0, 20))} is not supported; supported: ${supportedSchemes().join(", ")}`);
    }
    return (await validateTargetUrl(url, options)).toString();
  }
  if (url.length > MAX_TARGET_URL_LENGTH) throw invalidDestinationUrl(`url must be at most ${MAX_TARGET_URL_LENGTH} characters, got ${url.length}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidDestinationUrl(`url is not a valid ${scheme} url: ${JSON.stringify(maskUrlCredentials(url).slice(0, 100))}`);
  }
  if (decodeURIComponent(parsed.password) === URL_CREDENTIAL_MASK || decodeURIComponent(parsed.username) === URL_CREDENTIAL_MASK) {
    throw invalidDestinationUrl(`url carries the masked credential ${URL_CREDENTIAL_MASK} as shown by GET; send the real one`);
  }
  const target = driver.parseUrl(parsed);
  await validateTargetHost(target.host, options);
  return parsed.toString();
}

/**
 * A subscription url as every GET and log shows it: a broker url with its credentials masked (see
 * `maskUrlCredentials`). Webhook urls carry none (credentials go in headers) and come back unchanged.
 * @example maskDestinationUrl("nats://app:s3cret@broker:4222/orders") // "nats://app:****@broker:4222/orders"
 */
export function maskDestinationUrl(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  return scheme !== undefined && brokerDriverFor(scheme.toLowerCase()) ? maskUrlCredentials(url) : url;
}

/**
 * A subscription url sent in a PUT or PATCH, with the credentials a GET masked put back from the stored url (see
 * `restoreMaskedCredentials`): sending back what was read keeps the credential. Only broker urls are masked by GET,
 * so a webhook url comes back unchanged.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` when the masked url names another endpoint than the stored one.
 */
export function restoreMaskedDestinationUrl(sent: string, stored: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(sent)?.[1];
  return scheme !== undefined && brokerDriverFor(scheme.toLowerCase()) ? restoreMaskedCredentials(sent, stored) : sent;
}
