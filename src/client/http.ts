import { SwitchboardError } from "./errors.js";

/** Options of {@link HttpClient}; the SDK's constructor takes the same. */
export interface HttpClientOptions {
  /** The hub, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key or a JWT, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The hub's `BASE_PATH` (default `/api`). */
  basePath?: string;
  /** How many times a 429 or 503 reply is retried (default 3). */
  maxRetries?: number;
  /** A `Retry-After` longer than this (ms) is not waited for: the error is thrown at once (default 30 000). */
  maxRetryDelayMs?: number;
  /** The wait before a retry when the reply names none (ms, doubled each time; default 500). */
  retryDelayMs?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/** A query parameter: arrays repeat the name; undefined values are left out. */
export type QueryValue = string | number | boolean | null | undefined | Date | readonly string[];

/** One request. */
export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON unless `rawBody` is given. */
  body?: unknown;
  /** A body sent as it is, with `contentType`. */
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * The SDK's HTTP: JSON in and out, the hub's error bodies thrown as {@link SwitchboardError}, and 429 / 503 retried
 * after their `Retry-After` (both mean the hub did nothing with the request), at most `maxRetries` times.
 */
export class HttpClient {
  readonly url: string;
  readonly basePath: string;
  private readonly options: HttpClientOptions;

  constructor(options: HttpClientOptions) {
    if (typeof options?.url !== "string" || options.url === "") throw new TypeError("Switchboard: url is required");
    this.url = options.url.replace(/\/+$/, "");
    this.basePath = options.basePath ?? "/api";
    this.options = options;
  }

  /** Headers of every request: the bearer token and the configured ones. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.options.headers, ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}), ...extra };
  }

  /** `path` under the base path, with the query. */
  apiUrl(path: string, query?: Record<string, QueryValue>): string {
    return `${this.url}${this.basePath}${path}${queryString(query)}`;
  }

  /** Sends one request to `BASE_PATH + path`; resolves with the parsed JSON reply (undefined for 204). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, this.apiUrl(path, options.query), options);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    try {
      return (text === "" ? undefined : JSON.parse(text)) as T;
    } catch (error) {
      throw new SwitchboardError("SB_CLIENT_BAD_REPLY", res.status, `the reply is not JSON: ${text.slice(0, 200)}`, { cause: error });
    }
  }

  /** Sends one request to a full `url`, retrying 429 and 503; resolves with a 2xx response (body unread). */
  async send(method: string, url: string, options: RequestOptions = {}): Promise<Response> {
    const maxRetries = this.options.maxRetries ?? 3;
    const { body, contentType } =
      options.rawBody !== undefined
        ? { body: options.rawBody, contentType: options.contentType ?? "application/json" }
        : options.body === undefined
          ? { body: undefined, contentType: undefined }
          : { body: JSON.stringify(options.body), contentType: "application/json" };
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: this.headers({ ...(contentType ? { "content-type": contentType } : {}), ...options.headers }),
          body,
          signal: options.signal,
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        throw new SwitchboardError("SB_CLIENT_NETWORK", 0, `cannot reach ${this.url}: ${(error as Error).message}`, { cause: error });
      }
      if (res.ok) return res;
      const failure = await errorFrom(res);
      const retryable = res.status === 429 || res.status === 503;
      const delay = failure.retryAfterMs ?? (this.options.retryDelayMs ?? 500) * 2 ** attempt;
      if (!retryable || attempt >= maxRetries || delay > (this.options.maxRetryDelayMs ?? 30_000)) throw failure;
      await sleep(delay, options.signal);
    }
  }
}

/** The {@link SwitchboardError} of a non-2xx reply (its body read). */
export async function errorFrom(res: Response): Promise<SwitchboardError> {
  const text = await res.text().catch(() => "");
  const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
  let body: { code?: unknown; details?: unknown; error?: unknown } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body && typeof body.code === "string") {
    const details = typeof body.details === "string" ? body.details : String(body.error ?? "");
    const title = typeof body.error === "string" ? body.error : undefined;
    return new SwitchboardError(body.code as SwitchboardError["code"], res.status, details, { retryAfterMs, title });
  }
  return new SwitchboardError("SB_CLIENT_BAD_REPLY", res.status, `HTTP ${res.status} ${res.statusText}: ${text.slice(0, 200)}`, { retryAfterMs });
}

/** `Retry-After` in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** `?a=1&b=x&b=y` from a record; undefined values left out, Dates as ISO 8601. */
export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) params.append(name, v);
    else params.set(name, value instanceof Date ? value.toISOString() : String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
