import dns from "node:dns";
import { isIP } from "node:net";
import { HubError } from "../../errors.js";
import { literalHost, privateTargetError, refusedRange } from "../webhooks/target-guard.js";

/** What replaces a credential wherever a subscription url is shown or logged. */
export const URL_CREDENTIAL_MASK = "****";
/** Query parameters whose values are credentials, masked like the password of the url. */
const SECRET_PARAMS = /^(token|password|pass|secret|key|api[-_]?key|auth|jwt|nkey|seed|creds?)$/i;

/** The parts of a broker url every driver needs: endpoint key and label, host, port. */
export interface BrokerEndpoint {
  /** `scheme://user:pass@host:port`: the pool key (credentials included, never shown). */
  key: string;
  /** `scheme://host:port`: shown in `/ready` and logs. */
  label: string;
  host: string;
  port: number;
  username: string;
  password: string;
}

/**
 * The endpoint of a broker url: scheme, host, port (`defaultPort` when absent) and credentials, decoded.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` when there is no host.
 */
export function brokerEndpoint(url: URL, defaultPort: number): BrokerEndpoint {
  if (url.hostname === "") throw invalidDestinationUrl(`url ${url.protocol}// needs a host`);
  const scheme = url.protocol.slice(0, -1);
  const port = url.port === "" ? defaultPort : Number(url.port);
  const hostPort = `${url.hostname}:${port}`;
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const credentials = url.username || url.password ? `${url.username}:${url.password}@` : "";
  return { key: `${scheme}://${credentials}${hostPort}`, label: `${scheme}://${hostPort}`, host: literalHost(url.hostname), port, username, password };
}

/**
 * A url with its credentials masked: the password (or a lone user name, which brokers read as a token) and the
 * values of query parameters such as `token` or `password`. Anything that is not a URL comes back unchanged.
 * @example maskUrlCredentials("nats://app:s3cret@broker:4222/orders") // "nats://app:****@broker:4222/orders"
 */
export function maskUrlCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  let changed = false;
  if (parsed.password !== "") {
    parsed.password = URL_CREDENTIAL_MASK;
    changed = true;
  } else if (parsed.username !== "") {
    parsed.username = URL_CREDENTIAL_MASK;
    changed = true;
  }
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(name)) {
      parsed.searchParams.set(name, URL_CREDENTIAL_MASK);
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

/**
 * The connect-time half of the target guard for brokers: every address the host resolves to (or the IP literal)
 * must be allowed, checked right before each connection is opened (DNS rebinding).
 * @throws Error coded `ESWITCHBOARD_PRIVATE_TARGET` for a refused address; the resolver's error when it fails.
 */
export async function guardBrokerHost(host: string, allowPrivate: boolean): Promise<void> {
  const addresses = isIP(host) !== 0 ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
  const refused = addresses.find((address) => refusedRange(address, allowPrivate));
  if (refused !== undefined) throw privateTargetError(host, refused);
}

/** The 400 for a destination url that is malformed for its kind. */
export function invalidDestinationUrl(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}

/** Whether a url carries {@link URL_CREDENTIAL_MASK} where {@link maskUrlCredentials} puts it. */
export function hasMaskedCredential(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const isMask = (value: string) => safeDecode(value) === URL_CREDENTIAL_MASK;
  return (
    isMask(parsed.username) ||
    isMask(parsed.password) ||
    [...parsed.searchParams].some(([name, value]) => SECRET_PARAMS.test(name) && value === URL_CREDENTIAL_MASK)
  );
}

/**
 * A url sent back with its credentials masked (as a GET showed it), with the stored credentials put back in place of
 * the masks, so that a client that PUTs back what it read keeps the credential. The endpoint must be the stored one:
 * same scheme, host, port, path and user name; a credential is never carried to another endpoint. A url without a
 * mask comes back unchanged.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` when a masked url names another endpoint, or masks a credential the
 *   stored url does not have.
 * @example restoreMaskedCredentials("nats://app:****@b/orders", "nats://app:s3cret@b/orders") // "nats://app:s3cret@b/orders"
 */
export function restoreMaskedCredentials(sent: string, stored: string): string {
  if (!hasMaskedCredential(sent)) return sent;
  // Sent back exactly as read: the stored url as it is (not re-serialised).
  if (sent === maskUrlCredentials(stored)) return stored;
  const url = new URL(sent);
  let was: URL;
  try {
    was = new URL(stored);
  } catch {
    throw maskedElsewhere(stored);
  }
  const sameEndpoint = url.protocol === was.protocol && url.host === was.host && url.pathname === was.pathname;
  const maskedUser = safeDecode(url.username) === URL_CREDENTIAL_MASK;
  if (!sameEndpoint || (!maskedUser && url.username !== was.username)) throw maskedElsewhere(stored);
  const noneStored = (what: string) => invalidDestinationUrl(`url masks the ${what} (${URL_CREDENTIAL_MASK}) but the stored url has none; send the real one`);
  if (maskedUser) {
    if (was.username === "") throw noneStored("user name");
    url.username = was.username;
  }
  if (safeDecode(url.password) === URL_CREDENTIAL_MASK) {
    if (was.password === "") throw noneStored("password");
    url.password = was.password;
  }
  for (const [name, value] of [...url.searchParams]) {
    if (!SECRET_PARAMS.test(name) || value !== URL_CREDENTIAL_MASK) continue;
    const storedValue = was.searchParams.get(name);
    if (storedValue === null) throw noneStored(`${name} parameter`);
    url.searchParams.set(name, storedValue);
  }
  return url.toString();
}

function maskedElsewhere(stored: string): HubError {
  return invalidDestinationUrl(
    `url carries the masked credential ${URL_CREDENTIAL_MASK} for another endpoint than the stored ${maskUrlCredentials(stored)}: ` +
      "a stored credential is kept only for the same scheme, host, port, path and user; send the real one",
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
