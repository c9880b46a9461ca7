import type { IncomingHttpHeaders } from "node:http";
import { HubError } from "../errors.js";

/** The most bytes (UTF-8 names and values) of captured headers one publish request may bring. */
export const MAX_CAPTURED_HEADER_BYTES = 8192;

/**
 * The headers of a publish request that `captureHeaders` names (lower-case `names`), kept with each of its events;
 * undefined when the request has none of them. A header sent several times is joined with ", " as HTTP allows.
 * @throws HubError SB_REQUEST_HEADERS_TOO_LARGE (431) when they are over {@link MAX_CAPTURED_HEADER_BYTES}: an event
 *   keeps what it was published with, or nothing is stored.
 * @example captureRequestHeaders(["x-tenant"], { "x-tenant": "acme", accept: "*\/*" }) // { "x-tenant": "acme" }
 */
export function captureRequestHeaders(names: readonly string[], headers: IncomingHttpHeaders): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let bytes = 0;
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(", ") : value;
    bytes += Buffer.byteLength(name) + Buffer.byteLength(text);
    if (bytes > MAX_CAPTURED_HEADER_BYTES) {
      throw new HubError(
        "SB_REQUEST_HEADERS_TOO_LARGE",
        `the captured headers (SWITCHBOARD_CAPTURE_HEADERS) of this request are over ${MAX_CAPTURED_HEADER_BYTES} bytes`,
      );
    }
    (out ??= {})[name] = text;
  }
  return out;
}
