import type { BrokerTarget } from "../broker-driver.js";
import { brokerEndpoint, invalidDestinationUrl, type BrokerEndpoint } from "../broker-url.js";

/** The Redis port when the url has none (`rediss://` too, as in Redis's own url form). */
export const REDIS_DEFAULT_PORT = 6379;
/** The query parameters a Redis url may have. */
const PARAMETERS = new Set(["stream", "channel", "maxlen"]);
/** The url form, quoted in every 400 about it. */
const FORM = "redis://[user:pass@]host:port/<db>?stream=S[&maxlen=N] or ?channel=C";

/** A `redis://` url, parsed: the endpoint, its database, and the stream (XADD) or channel (PUBLISH). */
export interface RedisTarget extends BrokerTarget {
  endpoint: BrokerEndpoint;
  tls: boolean;
  /** Database index, selected once per connection (so it is part of the endpoint key). */
  db: number;
  /** `stream`: one XADD per delivery, durable. `channel`: one PUBLISH, lost when no subscriber listens. */
  mode: "stream" | "channel";
  /** The stream key or the channel name. */
  name: string;
  /** `MAXLEN ~ N` on every XADD, when given. */
  maxlen: number | undefined;
}

/**
 * Parses `redis[s]://[user:pass@ | :pass@]host[:6379][/<db>]?stream=S[&maxlen=N]` or `…?channel=C`, without I/O.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` naming what is wrong.
 */
export function parseRedisUrl(url: URL): RedisTarget {
  const scheme = url.protocol.slice(0, -1);
  const endpoint = brokerEndpoint(url, REDIS_DEFAULT_PORT);
  if (url.username !== "" && url.password === "") {
    throw invalidDestinationUrl(`${scheme} url credentials are user:pass@ (an ACL user) or :pass@ (the default user), not a lone user name`);
  }
  if (url.hash !== "") throw invalidDestinationUrl(`${scheme} url takes no fragment: ${FORM}`);
  const db = parseDb(scheme, url.pathname);
  const params = queryParameters(scheme, url.searchParams);
  const stream = params.get("stream");
  const channel = params.get("channel");
  if (stream !== undefined && channel !== undefined) throw invalidDestinationUrl(`${scheme} url takes stream or channel, not both: ${FORM}`);
  if (stream === undefined && channel === undefined) throw invalidDestinationUrl(`${scheme} url needs ?stream=S (XADD) or ?channel=C (PUBLISH): ${FORM}`);
  const mode = stream !== undefined ? "stream" : "channel";
  const name = (stream ?? channel)!;
  if (name === "") throw invalidDestinationUrl(`${scheme} url ${mode} name is empty`);
  const maxlen = parseMaxlen(scheme, params.get("maxlen"), mode);
  const dbSuffix = db === 0 ? "" : `/${db}`;
  return {
    endpointKey: `${endpoint.key}/${db}`,
    endpointLabel: `${endpoint.label}${dbSuffix}`,
    host: endpoint.host,
    address: `${mode} ${name}`,
    endpoint,
    tls: scheme === "rediss",
    db,
    mode,
    name,
    maxlen,
  };
}

/** The path is the database index: empty or `/` for 0, else `/N`. */
function parseDb(scheme: string, pathname: string): number {
  const path = pathname === "" || pathname === "/" ? "/0" : pathname;
  const match = /^\/(\d{1,9})$/.exec(path);
  if (!match) {
    throw invalidDestinationUrl(`${scheme} url path must be the database number (/0, /1, …), got ${JSON.stringify(pathname.slice(0, 40))}: ${FORM}`);
  }
  return Number(match[1]);
}

/** The query as a map, refusing unknown and repeated parameters (a silently ignored typo would send elsewhere). */
function queryParameters(scheme: string, search: URLSearchParams): Map<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of search) {
    if (!PARAMETERS.has(name)) {
      throw invalidDestinationUrl(`${scheme} url parameter ${JSON.stringify(name.slice(0, 40))} is not known; it takes stream, channel and maxlen`);
    }
    if (params.has(name)) throw invalidDestinationUrl(`${scheme} url parameter ${name} is given twice`);
    params.set(name, value);
  }
  return params;
}

function parseMaxlen(scheme: string, value: string | undefined, mode: RedisTarget["mode"]): number | undefined {
  if (value === undefined) return undefined;
  if (mode === "channel") throw invalidDestinationUrl(`${scheme} url maxlen applies to a stream, not a channel`);
  const maxlen = /^[1-9]\d{0,14}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(maxlen))
    throw invalidDestinationUrl(`${scheme} url maxlen must be a positive whole number, got ${JSON.stringify(value.slice(0, 40))}`);
  return maxlen;
}
