/**
 * The API as the console calls it: through `switchboard/client` (the repo's SDK, bundled), same origin, with the
 * session cookie and the header that lets the cookie count (docs/auth.md).
 */
import { Switchboard } from "../../src/client/switchboard.js";

export { SwitchboardError } from "../../src/client/errors.js";
export type { ApiKey, Delivery, EventOut as EventEnvelope, Page, Subscription, Topic } from "../../src/client/types.js";

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content;
/** The API's base path (`/api` unless BASE_PATH says otherwise), from the page the hub served. */
export const API_BASE = meta("switchboard-api-base") ?? "/api";
/** Where the console's pages live: empty, or `/console` when the API is served from the root. */
export const PAGES_BASE = meta("switchboard-pages-base") ?? "";

/** The console's client of its hub. */
export const sb = new Switchboard({ url: window.location.origin, basePath: API_BASE, headers: { "x-switchboard-console": "1" }, maxRetries: 2 });

/** Calls a route the SDK has no method for (the console's session, the stats): `BASE_PATH + path`, JSON. */
export function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  return sb.http.request<T>(method, path, body === undefined ? {} : { body });
}

export interface Session {
  auth: boolean;
  signed_in: boolean;
  scopes: string[];
}
