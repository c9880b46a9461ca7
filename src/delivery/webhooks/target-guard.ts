import dns, { type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { HubError } from "../../errors.js";

/**
 * Keeps webhooks off private networks (SSRF): a subscription may not target an address of an IANA special-purpose
 * range that is not globally reachable ({@link SPECIAL_PURPOSE_RANGES}). Checked twice: when the target is set
 * ({@link validateTargetUrl}) and when each connection is opened ({@link guardedLookup}), because a name that
 * resolved to a public address yesterday may resolve to 127.0.0.1 today (DNS rebinding).
 * `SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true` unlocks the ranges a unicast host can listen on, for local development;
 * multicast, broadcast and 240/4 stay refused.
 */

/** Longest target URL accepted. */
export const MAX_TARGET_URL_LENGTH = 2048;
/** The `code` of the error {@link guardedLookup} fails a connection with. */
export const PRIVATE_TARGET_ERROR_CODE = "ESWITCHBOARD_PRIVATE_TARGET";

const ALLOW_HINT = "SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true allows private targets (local development)";
const NEVER_HINT = "no webhook receiver can listen there, whatever SWITCHBOARD_ALLOW_PRIVATE_TARGETS says";

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
  /** Unlock the ranges marked `allowable` (`SWITCHBOARD_ALLOW_PRIVATE_TARGETS`); host names are then not resolved. */
  allowPrivate: boolean;
  /** Resolver; defaults to `dns.promises.lookup`. */
  lookup?: LookupFn;
}

/** A range of addresses no webhook may target. */
export interface SpecialRange {
  /** `10.0.0.0/8`, `2001:db8::/32`. */
  cidr: string;
  /** What the range is for. */
  name: string;
  /** Where it is reserved. */
  rfc: string;
  /** `SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true` unlocks it: a unicast host can listen there (a lab, a laptop). */
  allowable: boolean;
}

/**
 * The ranges refused as webhook targets: every entry of the IANA IPv4 and IPv6 Special-Purpose Address Registries
 * that is not globally reachable, IPv4 multicast and reserved space, and the IPv6 space outside 2000::/3, which is
 * not allocated for global unicast. The longest matching prefix names the range. IPv6 forms that carry an IPv4
 * address (mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address instead.
 * docs/delivery.md has this table.
 */
export const SPECIAL_PURPOSE_RANGES: readonly SpecialRange[] = Object.freeze(
  (
    [
      ["0.0.0.0/8", "this network", "RFC 791", true],
      ["10.0.0.0/8", "private-use", "RFC 1918", true],
      ["100.64.0.0/10", "shared address space (CGNAT)", "RFC 6598", true],
      ["127.0.0.0/8", "loopback", "RFC 1122", true],
      ["169.254.0.0/16", "link-local (cloud metadata)", "RFC 3927", true],
      ["172.16.0.0/12", "private-use", "RFC 1918", true],
      ["192.0.0.0/24", "IETF protocol assignments", "RFC 6890", true],
      ["192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737", true],
      ["192.88.99.0/24", "6to4 relay anycast (deprecated)", "RFC 7526", true],
      ["192.168.0.0/16", "private-use", "RFC 1918", true],
      ["198.18.0.0/15", "benchmarking", "RFC 2544", true],
      ["198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737", true],
      ["203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737", true],
      ["224.0.0.0/4", "multicast", "RFC 5771", false],
      ["240.0.0.0/4", "reserved", "RFC 1112", false],
      ["255.255.255.255/32", "limited broadcast", "RFC 919", false],
      ["::/128", "unspecified", "RFC 4291", true],
      ["::1/128", "loopback", "RFC 4291", true],
      ["64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215", true],
      ["100::/64", "discard-only", "RFC 6666", true],
      ["2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID…)", "RFC 2928", true],
      ["2001:db8::/32", "documentation", "RFC 3849", true],
      ["3fff::/20", "documentation", "RFC 9637", true],
      ["5f00::/16", "SRv6 SIDs", "RFC 9602", true],
      ["fc00::/7", "unique local", "RFC 4193", true],
      ["fe80::/10", "link-local", "RFC 4291", true],
      ["fec0::/10", "site-local (deprecated)", "RFC 3879", true],
      ["ff00::/8", "multicast", "RFC 4291", false],
      ["::/3", "not global unicast (outside 2000::/3)", "RFC 4291", true],
      ["4000::/2", "not global unicast (outside 2000::/3)", "RFC 4291", true],
      ["8000::/1", "not global unicast (outside 2000::/3)", "RFC 4291", true],
    ] as const
  ).map(([cidr, name, rfc, allowable]) => Object.freeze({ cidr, name, rfc, allowable })),
);

/** What {@link specialPurposeRange} answers for a string that is not an IP address: the guard fails closed. */
const NOT_AN_ADDRESS: SpecialRange = Object.freeze({ cidr: "-", name: "not an IP address", rfc: "-", allowable: false });

interface ParsedRange {
  range: SpecialRange;
  bytes: number[];
  bits: number;
}

const PARSED_RANGES: ParsedRange[] = SPECIAL_PURPOSE_RANGES.map((range) => {
  const [ip, bits] = range.cidr.split("/") as [string, string];
  return { range, bytes: addressBytes(ip)!, bits: Number(bits) };
});

/**
 * The special-purpose range an address is in, or undefined for a globally reachable one. Accepts `[…]` brackets
 * and `%zone` suffixes; anything that is not an IP address gets a range that is never allowable.
 * @example specialPurposeRange("::ffff:7f00:1")?.cidr // "127.0.0.0/8"
 */
export function specialPurposeRange(ip: string): SpecialRange | undefined {
  let s = ip.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  let bytes = addressBytes(s);
  if (!bytes) return NOT_AN_ADDRESS;
  if (bytes.length === 16) bytes = embeddedIPv4(bytes) ?? bytes;
  let best: ParsedRange | undefined;
  for (const p of PARSED_RANGES) {
    if (p.bytes.length === bytes.length && (!best || p.bits > best.bits) && prefixMatches(bytes, p.bytes, p.bits)) best = p;
  }
  return best?.range;
}

/**
 * True for addresses in any range of {@link SPECIAL_PURPOSE_RANGES} and for anything that is not an IP address.
 * @example isPrivateAddress("192.0.2.1") // true: documentation
 */
export function isPrivateAddress(ip: string): boolean {
  return specialPurposeRange(ip) !== undefined;
}

/** The range that makes a webhook to `ip` refused, or undefined when it may be targeted. */
export function refusedRange(ip: string, allowPrivate: boolean): SpecialRange | undefined {
  const range = specialPurposeRange(ip);
  return range && !(allowPrivate && range.allowable) ? range : undefined;
}

/** `10.0.0.0/8 private-use, RFC 1918`. */
function describeRange(range: SpecialRange): string {
  return range === NOT_AN_ADDRESS ? range.name : `${range.cidr} ${range.name}, ${range.rfc}`;
}

/** The IPv4 address carried by a mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address. */
function embeddedIPv4(b: number[]): number[] | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12);
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6);
  return undefined;
}

function prefixMatches(bytes: number[], prefix: number[], bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (prefix[whole]! & mask);
}

/** The 4 or 16 bytes of an IP address in the strict form `isIP` accepts, or undefined. */
function addressBytes(s: string): number[] | undefined {
  switch (isIP(s)) {
    case 4:
      return s.split(".").map(Number);
    case 6:
      return ipv6Words(s).flatMap((w) => [w >> 8, w & 0xff]);
    default:
      return undefined;
  }
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
 * Checks a webhook target URL: absolute `http:`/`https:`, no `user:pass@`, at most 2048 characters; an IP-literal
 * host must not be refused ({@link refusedRange}); unless `allowPrivate`, a host name must resolve, with every
 * address public.
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
  await validateTargetHost(parsed.hostname, options);
  return parsed;
}

/**
 * Checks the host of any target (a webhook receiver, a broker): an IP literal must not be refused
 * ({@link refusedRange}); unless `allowPrivate`, a host name must resolve, with every address public.
 * @throws HubError `SB_WEBHOOK_TARGET_FORBIDDEN` for a private or unresolvable host.
 */
export async function validateTargetHost(hostname: string, options: ValidateTargetOptions): Promise<void> {
  const host = literalHost(hostname);
  if (isIP(host) !== 0) {
    const range = refusedRange(host, options.allowPrivate);
    if (range) throw forbidden(`url host ${host} is not a public address: ${describeRange(range)}; ${hintFor(range)}`);
    return;
  }
  // Names are resolved only to refuse them; with allowPrivate the connect-time check still refuses what no receiver
  // could be (multicast, broadcast).
  if (options.allowPrivate) return;
  const lookup: LookupFn = options.lookup ?? dns.promises.lookup;
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw forbidden(`url host ${host} does not resolve (${code}); a target must resolve to public addresses`);
  }
  if (addresses.length === 0) throw forbidden(`url host ${host} does not resolve to any address`);
  for (const { address } of addresses) {
    const range = refusedRange(address, false);
    if (range) throw forbidden(`url host ${host} resolves to private address ${address} (${describeRange(range)}); ${hintFor(range)}`);
  }
}

function hintFor(range: SpecialRange): string {
  return range.allowable ? ALLOW_HINT : NEVER_HINT;
}

/** The host of a URL without the brackets of an IPv6 literal. */
export function literalHost(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/**
 * A `lookup` for `net.connect` (and undici's `connect: { lookup }`) that resolves every address of the host and
 * fails the connection with an Error coded `ESWITCHBOARD_PRIVATE_TARGET` when any is refused ({@link refusedRange}),
 * so the check is made against the addresses actually connected to. Handles `options.all` both ways. Node does
 * not call lookup for IP-literal hosts: check those with {@link refusedRange} before connecting.
 */
export function guardedLookup(allowPrivate: boolean, lookup: CallbackLookupFn = lookupAll): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      const bad = addresses.find((a) => refusedRange(a.address, allowPrivate));
      if (bad) return callback(privateTargetError(hostname, bad.address), "");
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
