import { HubError } from "../../errors.js";

/** Most headers of one subscription. */
export const MAX_HEADERS = 32;
/** Longest header name. */
export const MAX_HEADER_NAME_LENGTH = 128;
/** Longest header value. */
export const MAX_HEADER_VALUE_LENGTH = 4096;
/**
 * Most bytes of all names and values together, leaving room for the hub's own headers under the 16 KiB header
 * limit of Node's HTTP server (a receiver past it answers 431 to every attempt).
 */
export const MAX_HEADER_BYTES = 8192;
/**
 * Hop-by-hop and framing headers (RFC 9110 §7.6.1, RFC 9112 §6): the HTTP client manages them for the
 * connection. undici refuses `transfer-encoding`, `keep-alive`, `upgrade` and `expect` outright
 * (every attempt would fail) and the others break or misroute the exchange, so none can be sent.
 */
const HOP_BY_HOP_HEADER =
  /^(connection|keep-alive|proxy-connection|te|trailer|transfer-encoding|upgrade|expect|host|content-length|proxy-authorization|proxy-authenticate|http2-settings)$/i;
/** Headers the hub sets on every attempt (or that would misdescribe the body it writes); refused, not overridden. */
const HUB_HEADER = /^(webhook-.*|ce-.*|content-type|content-encoding|traceparent|tracestate|user-agent)$/i;
/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Anything but HTAB and visible ASCII or space: C0 controls (CR, LF, NUL…), DEL and every non-ASCII character. */
const BAD_VALUE_CHAR = /[^\t\x20-\x7e]/;
/** Names whose values are credentials, masked in replies. */
const CREDENTIAL_NAME = /auth|token|secret|key|pass|pwd|signature|credential|cookie|session|jwt|bearer/i;
/** Values that carry an HTTP authentication scheme (RFC 9110 §11), whatever the header's name. */
const CREDENTIAL_VALUE = /^(bearer|basic|digest|negotiate|token|aws4-hmac-sha256)\s/i;
/** What a masked value starts with. */
export const MASK = "****";

/**
 * Checks the `headers` of a subscription: only headers that can be sent on every attempt are taken.
 * @throws HubError 400 naming the header at fault.
 */
export function parseHeaders(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("headers must be an object of strings");
  const o = value as Record<string, unknown>;
  const entries = Object.entries(o);
  if (entries.length > MAX_HEADERS) throw invalid(`headers: at most ${MAX_HEADERS} headers, got ${entries.length}`);
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, v] of entries) {
    const shown = JSON.stringify(name.length > MAX_HEADER_NAME_LENGTH + 1 ? `${name.slice(0, MAX_HEADER_NAME_LENGTH)}…` : name);
    if (!TOKEN.test(name)) throw invalid(`header name ${shown} is not an HTTP token (RFC 9110: letters, digits and !#$%&'*+-.^_\`|~)`);
    if (name.length > MAX_HEADER_NAME_LENGTH) throw invalid(`header name ${shown} is longer than ${MAX_HEADER_NAME_LENGTH} characters`);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADER.test(name)) throw invalid(`header ${name} is hop-by-hop or framing, managed by the HTTP client; it cannot be sent`);
    if (HUB_HEADER.test(name)) throw invalid(`header ${name} is set by the hub and cannot be overridden`);
    if (Object.hasOwn(out, lower)) throw invalid(`header ${name} is given twice (names are case-insensitive)`);
    if (typeof v !== "string") throw invalid(`header ${name} must be a string`);
    if (v.length > MAX_HEADER_VALUE_LENGTH) throw invalid(`header ${name} is longer than ${MAX_HEADER_VALUE_LENGTH} characters`);
    const bad = BAD_VALUE_CHAR.exec(v);
    if (bad) {
      const code = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      throw invalid(`header ${name} has ${code} in its value; values may hold only visible ASCII, spaces and tabs`);
    }
    bytes += name.length + v.length;
    if (bytes > MAX_HEADER_BYTES) throw invalid(`headers: names and values together are over ${MAX_HEADER_BYTES} bytes (at ${name})`);
    out[lower] = v;
  }
  return out;
}

/** True when a header carries a credential: by its name (authorization, cookie, x-api-key, …) or its value's scheme. */
export function isCredentialHeader(name: string, value: string): boolean {
  return CREDENTIAL_NAME.test(name) || CREDENTIAL_VALUE.test(value);
}

/** `****` and the last 4 characters for a value of 16 characters or more, `****` alone for a shorter one. */
export function maskHeaderValue(value: string): string {
  return value.length >= 16 ? `${MASK}${value.slice(-4)}` : MASK;
}

/**
 * The headers with the values of credential-like ones masked ({@link isCredentialHeader}, {@link maskHeaderValue}).
 * @example maskHeaders({ authorization: "Bearer abcdefghijklmnop", "x-tenant": "a" }) // { authorization: "****mnop", "x-tenant": "a" }
 */
export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, isCredentialHeader(name, value) ? maskHeaderValue(value) : value]));
}

function invalid(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}
