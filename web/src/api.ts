/** The API as the console calls it: same origin, the session cookie, and the header that lets the cookie count. */

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content;
/** The API's base path (`/api` unless BASE_PATH says otherwise), from the page the hub served. */
export const API_BASE = meta("switchboard-api-base") ?? "/api";
/** Where the console's pages live: empty, or `/console` when the API is served from the root. */
export const PAGES_BASE = meta("switchboard-pages-base") ?? "";

/** An error answer of the hub: `{error, details, code}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly details: string,
  ) {
    super(details || code);
  }
}

/** Calls `BASE_PATH + path`; resolves with the parsed JSON (undefined for 204), throws {@link ApiError}. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${API_BASE}${path}`, {
    method,
    credentials: "same-origin",
    headers: { "x-switchboard-console": "1", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const e = (json ?? {}) as { code?: string; details?: string; error?: string };
    throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.details ?? e.error ?? res.statusText);
  }
  return json as T;
}

/** Builds a query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export interface Session {
  auth: boolean;
  signed_in: boolean;
  scopes: string[];
}

export interface Topic {
  name: string;
  description: string | null;
  schema: unknown;
  event_count: number;
  last_event_at: string | null;
  retention_ms: number | null;
  created_at: string;
}

export interface EventEnvelope {
  id: string;
  seq: number;
  topic: string;
  type: string | null;
  source: string | null;
  time: string;
  key: string | null;
  data: unknown;
  attributes: Record<string, string>;
  received_at: string;
}

export interface Subscription {
  id: string;
  topic: string;
  url: string;
  filter: string | null;
  active: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  max_in_flight: number;
  created_at: string;
}

export interface ApiKey {
  id: string;
  name: string | null;
  prefix: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
  token?: string;
}

export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}
