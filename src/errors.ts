/**
 * The one error catalog. Every error a client can see has a stable `code` (`SB_<AREA>_<WHAT>`), an HTTP status
 * and a short text; `details` carries the specifics of one occurrence. Codes are documented in
 * `docs/errors.md` and never reused for another meaning.
 */

/** Catalog entry: the HTTP status and the short, constant text for one error code. */
export interface ErrorSpec {
  readonly status: number;
  readonly error: string;
  /** Seconds the reply's `Retry-After` asks the client to wait: the condition is expected to pass. */
  readonly retryAfterS?: number;
}

export const ERRORS = {
  SB_REQUEST_INVALID_JSON: { status: 400, error: "invalid request" },
  SB_REQUEST_INVALID: { status: 400, error: "invalid request" },
  SB_REQUEST_UNSUPPORTED_MEDIA_TYPE: { status: 415, error: "unsupported media type" },
  SB_REQUEST_TOO_LARGE: { status: 413, error: "request too large" },
  SB_REQUEST_TIMEOUT: { status: 408, error: "request timeout" },
  SB_REQUEST_HEADERS_TOO_LARGE: { status: 431, error: "request headers too large" },
  SB_REQUEST_URL_TOO_LONG: { status: 414, error: "URL too long" },
  SB_ROUTE_NOT_FOUND: { status: 404, error: "not found" },
  SB_METHOD_NOT_ALLOWED: { status: 405, error: "method not allowed" },

  SB_EVENT_INVALID: { status: 400, error: "invalid event" },
  SB_EVENT_BATCH_TOO_LARGE: { status: 413, error: "batch too large" },
  SB_EVENT_SCHEMA_MISMATCH: { status: 400, error: "validation failed" },
  SB_EVENT_NOT_FOUND: { status: 404, error: "event not found" },
  SB_EVENT_ID_CONFLICT: { status: 409, error: "event id already used" },
  SB_IDEMPOTENCY_KEY_CONFLICT: { status: 409, error: "idempotency key already used" },

  SB_TOPIC_INVALID: { status: 400, error: "invalid topic" },
  SB_TOPIC_NOT_FOUND: { status: 404, error: "topic not found" },
  SB_TOPIC_EXISTS: { status: 409, error: "topic already exists" },
  SB_TOPIC_SCHEMA_INVALID: { status: 400, error: "invalid topic schema" },
  SB_TOPIC_LIVE_ONLY: { status: 409, error: "topic is live-only" },
  SB_LIVE_EVENT_TOO_LARGE: { status: 413, error: "live event too large" },

  SB_FILTER_INVALID: { status: 400, error: "invalid filter" },
  SB_FILTER_TOO_COSTLY: { status: 400, error: "filter too costly" },
  SB_QUERY_INVALID: { status: 400, error: "invalid query" },
  SB_QUERY_INVALID_TIME: { status: 400, error: "invalid time format" },
  SB_QUERY_INVALID_CURSOR: { status: 400, error: "invalid cursor" },
  SB_ROLLUPS_OFF: { status: 409, error: "rollups are off" },
  SB_AGGREGATE_TOO_COSTLY: { status: 400, error: "aggregation too costly" },
  SB_AGGREGATE_INVALID: { status: 400, error: "invalid aggregate" },
  SB_AGGREGATE_NOT_FOUND: { status: 404, error: "aggregate not found" },
  SB_AGGREGATE_EXISTS: { status: 409, error: "aggregate already exists" },
  SB_AGGREGATE_BACKFILL_RUNNING: { status: 409, error: "backfill already running" },

  SB_STREAM_LIMIT: { status: 503, error: "too many streams" },

  SB_AUTH_REQUIRED: { status: 401, error: "authentication required" },
  SB_AUTH_INVALID: { status: 401, error: "invalid credential" },
  SB_AUTH_FORBIDDEN: { status: 403, error: "forbidden" },
  SB_API_KEY_NOT_FOUND: { status: 404, error: "api key not found" },
  SB_API_KEY_INVALID: { status: 400, error: "invalid api key" },
  SB_API_KEY_EXISTS: { status: 409, error: "api key already exists" },
  SB_RATE_LIMITED: { status: 429, error: "too many requests" },
  SB_STREAMS_PER_CREDENTIAL: { status: 429, error: "too many streams for this credential" },
  SB_REQUEST_TOO_DEEP: { status: 400, error: "request nested too deeply" },
  SB_CORS_FORBIDDEN: { status: 403, error: "origin not allowed" },

  SB_SUBSCRIPTION_INVALID: { status: 400, error: "invalid subscription" },
  SB_WEBHOOK_TARGET_FORBIDDEN: { status: 400, error: "webhook target not allowed" },
  SB_SUBSCRIPTION_NOT_FOUND: { status: 404, error: "subscription not found" },
  SB_SUBSCRIPTION_EXISTS: { status: 409, error: "subscription already exists" },
  SB_SUBSCRIPTION_LIMIT: { status: 409, error: "too many subscriptions" },
  SB_DELIVERY_NOT_FOUND: { status: 404, error: "delivery not found" },
  SB_DELIVERY_IN_PROGRESS: { status: 409, error: "delivery already scheduled" },
  SB_SUBSCRIPTION_READ_ONLY: { status: 409, error: "subscription is read-only" },
  SB_HANDLER_INVALID: { status: 400, error: "invalid handler" },
  SB_HANDLER_EXISTS: { status: 409, error: "handler already registered" },

  SB_OUTBOX_CLIENT_INVALID: { status: 400, error: "invalid outbox client" },
  SB_OUTBOX_RELAYED: { status: 409, error: "outbox row already relayed" },

  SB_SHUTTING_DOWN: { status: 503, error: "shutting down" },
  SB_STORE_UNAVAILABLE: { status: 503, error: "store unavailable", retryAfterS: 2 },
  SB_STORE_FULL: { status: 507, error: "insufficient storage", retryAfterS: 30 },
  SB_INTERNAL: { status: 500, error: "internal error" },
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code from the catalog. */
export type ErrorCode = keyof typeof ERRORS;

/**
 * An error that the API shows to its client as `{error, details, code}` with the catalog's status.
 * Domain code throws these; transport maps them, and anything else becomes a 500 with nothing leaked.
 */
export class HubError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: string;

  constructor(code: ErrorCode, details: string, options?: { cause?: unknown }) {
    super(`${ERRORS[code].error}: ${details}`, options);
    this.name = "HubError";
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }

  /** The HTTP body for this error. */
  toBody(): ErrorBody {
    return { error: ERRORS[this.code].error, details: this.details, code: this.code };
  }
}

/** The body of every error reply. */
export interface ErrorBody {
  error: string;
  details: string;
  code: ErrorCode;
}

/** Raised for invalid configuration; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`invalid configuration: ${key}: ${message}`);
    this.name = "ConfigError";
    this.key = key;
  }
}
