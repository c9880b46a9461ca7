import dns, { type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { HubError } from "../../errors.js";

/**
 * Keeps webhooks off private networks (SSRF): a subscription may not target loopback, RFC 1918, link-local
 * (cloud metadata at 169.254.169.254), CGNAT, multicast or reserved addresses. Checked twice: when the target is
 * set ({@link validateTargetUrl}) and when each connection is opened ({@link guardedLookup}), because a name that
 * resolved to a public address yesterday may resolve to 127.0.0.1 today (DNS rebinding).
 * `SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true` turns both checks off, for local development.
 */

/** Longest target URL accepted. */
export const MAX_TARGET_URL_LENGTH = 2048;
/** The `code` of the error {@link guardedLookup} fails a connection with. */
export const PRIVATE_TARGET_ERROR_CODE = "ESWITCHBOARD_PRIVATE_TARGET";

const ALLOW_HINT = "SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true allows private targets (local development)";

/** Resolves every address of a host name, as `dns.promises.lookup(host, {all: true})` does. */
export type LookupFn = (hostname: string, options: { all: true }) => Promise<LookupAddress[]>;

/** Callback-style resolver of every address of a host name, as `dns.lookup(host, {all: true}, cb)` does. */
export type CallbackLookupFn = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** Options of {@link validateTargetUrl}. */
export interface ValidateTargetOptions {
  /** Skip the private-address checks (`SWITCHBOARD_ALLOW_PRIVATE_TARGETS`). */
  allowPrivate: boolean;
  /** Resolver; defaults to `dns.promises.lookup`. */
  lookup?: LookupFn;
}

/**
 * True for addresses a webhook must not reach: IPv4 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
 * 192.0.0/24, 192.168/16, 198.18/15, 224/4 and everything above (multicast, reserved, broadcast); IPv6 ::, ::1,
 * fc00::/7, fe80::/10, fec0::/10, ff00::/8 and 64:ff9b:1::/48. IPv6 forms that carry an IPv4 address (mapped
 * `::ffff:a.b.c.d`, compatible `::a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`)
 * are judged by that IPv4 address. Accepts `[…]` brackets and `%zone` suffixes. Anything that is not an IP
 * address counts as private: the guard fails closed.
 * @example isPrivateAddress("::ffff:7f00:1") // true: 127.0.0.1
 */
export function isPrivateAddress(ip: string): boolean {
  let s = ip.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  switch (isIP(s)) {
    case 4:
      return isPrivateIPv4(s.split(".").map(Number));
    case 6:
      return isPrivateIPv6(ipv6Words(s));
    default:
      return true;
  }
}

function isPrivateIPv4([a, b, c]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a! >= 224 ||
    (a === 100 && b! >= 64 && b! < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b! >= 16 && b! < 32) ||
    (a === 192 && b === 0 && c === 0) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

function isPrivateIPv6(w: number[]): boolean {
  const v4 = (hi: number, lo: number) => isPrivateIPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeroUpTo = (n: number) => w.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(5) && (w[5] === 0 || w[5] === 0xffff)) return v4(w[6]!, w[7]!); // compatible (incl. :: and ::1), mapped
  if (zeroUpTo(4) && w[4] === 0xffff && w[5] === 0) return v4(w[6]!, w[7]!); // translated (SIIT)
  if (w[0] === 0x64 && w[1] === 0xff9b) {
    if (w.slice(2, 6).every((x) => x === 0)) return v4(w[6]!, w[7]!); // NAT64 well-known prefix
    if (w[2] === 1) return true; // 64:ff9b:1::/48, local-use NAT64
  }
  if (w[0] === 0x2002) return v4(w[1]!, w[2]!); // 6to4
  const first = w[0]!;
  return (
    (first & 0xfe00) === 0xfc00 || // unique local
    (first & 0xffc0) === 0xfe80 || // link-local
    (first & 0xffc0) === 0xfec0 || // site-local (deprecated)
    (first & 0xff00) === 0xff00 // multicast
  );
}

/** The eight 16-bit words of an IPv6 address already checked by `isIP`. */
function ipv6Words(s: string): number[] {
  const parseHalf = (half: string): number[] => {
    if (half === "") return [];
    const words: number[] = [];
    for (const part of half.split(":")) {
      if (part.includes(".")) {
        const [a, b, c, d] = part.split(".").map(Number) as [number, number, number, number];
        words.push((a << 8) | b, (c << 8) | d);
      } else {
        words.push(parseInt(part, 16));
      }
    }
    return words;
  };
  const gap = s.indexOf("::");
  if (gap < 0) return parseHalf(s);
  const head = parseHalf(s.slice(0, gap));
  const tail = parseHalf(s.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * Checks a webhook target URL: absolute `http:`/`https:`, no `user:pass@`, at most 2048 characters; unless
 * `allowPrivate`, an IP-literal host must be public and a host name must resolve, with every address public.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` for a malformed URL, `SB_WEBHOOK_TARGET_FORBIDDEN` for a private or
 *   unresolvable target.
 * @example await validateTargetUrl("https://example.com/hook", { allowPrivate: false })
 */
export async function validateTargetUrl(url: string, options: ValidateTargetOptions): Promise<URL> {
  if (typeof url !== "string" || url.length === 0) throw invalidUrl("url must be an absolute http(s) URL");
  if (url.length > MAX_TARGET_URL_LENGTH) {
    throw invalidUrl(`url must be at most ${MAX_TARGET_URL_LENGTH} characters, got ${url.length}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl(`url must be an absolute http(s) URL, got ${JSON.stringify(url.slice(0, 100))}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw invalidUrl(`url must use http or https, got ${parsed.protocol.slice(0, -1)}`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw invalidUrl("url must not carry credentials (user:pass@); send them in the subscription's headers");
  }
  if (parsed.hostname === "") throw invalidUrl("url has no host");
  if (options.allowPrivate) return parsed;

  const host = literalHost(parsed.hostname);
  if (isIP(host) !== 0) {
    if (isPrivateAddress(host)) throw forbidden(`url host ${host} is a private address; ${ALLOW_HINT}`);
    return parsed;
  }
  const lookup: LookupFn = options.lookup ?? dns.promises.lookup;
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw forbidden(`url host ${host} does not resolve (${code}); a target must resolve to public addresses`);
  }
  if (addresses.length === 0) throw forbidden(`url host ${host} does not resolve to any address`);
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw forbidden(`url host ${host} resolves to private address ${bad.address}; ${ALLOW_HINT}`);
  return parsed;
}

/** The host of a URL without the brackets of an IPv6 literal. */
export function literalHost(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/**
 * A `lookup` for `net.connect` (and undici's `connect: { lookup }`) that resolves every address of the host and
 * fails the connection with an Error coded `ESWITCHBOARD_PRIVATE_TARGET` when any is private, so the check is
 * made against the addresses actually connected to. Handles `options.all` both ways. Node does not call lookup
 * for IP-literal hosts: check those with {@link isPrivateAddress} before connecting.
 */
export function guardedLookup(allowPrivate: boolean, lookup: CallbackLookupFn = lookupAll): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      if (!allowPrivate) {
        const bad = addresses.find((a) => isPrivateAddress(a.address));
        if (bad) return callback(privateTargetError(hostname, bad.address), "");
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) {
        return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname }), "");
      }
      callback(null, first.address, first.family);
    });
  };
}

function lookupAll(...args: Parameters<CallbackLookupFn>): void {
  dns.lookup(...args);
}

/** The error a connection to a private address fails with. */
export function privateTargetError(hostname: string, address: string): NodeJS.ErrnoException {
  const where = hostname === address ? "" : ` (${hostname})`;
  return Object.assign(new Error(`private address ${address} refused${where}`), {
    code: PRIVATE_TARGET_ERROR_CODE,
    hostname,
    address,
  });
}

function invalidUrl(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}

function forbidden(details: string): HubError {
  return new HubError("SB_WEBHOOK_TARGET_FORBIDDEN", details);
}
