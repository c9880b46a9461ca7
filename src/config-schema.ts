/**
 * The configuration schema: every key once, with what reads, checks and documents it. `config.ts` loads it.
 */

/** Node's timers take at most 2^31 - 1 ms; a longer delay fires at once (a heartbeat would spin). */
const MAX_TIMER_MS = 2_147_483_647;

interface KeySpecBase {
  /** Environment names, the first one winning when several are set. */
  env: readonly string[];
  /** One line, with the unit. */
  doc: string;
  /** `switchboard serve` takes the key as `--kebab-case <arg>` too, with this short form if any. */
  flag?: { short?: string; arg: string };
}

/** A whole number within `[min, max]`. */
interface IntSpec extends KeySpecBase {
  kind: "int";
  default: number;
  min?: number;
  max?: number;
}

interface BoolSpec extends KeySpecBase {
  kind: "bool";
  default: boolean;
}

/** One of `values`, matched without regard to case. */
interface EnumSpec extends KeySpecBase {
  kind: "enum";
  values: readonly string[];
  default: string;
}

interface StringSpec extends KeySpecBase {
  kind: "string";
  default: string;
  /** An empty environment value is a value (not "unset"): `BASE_PATH=` serves the API from the root. */
  allowEmpty?: boolean;
}

/** How one configuration key is read, checked and documented. */
export type ConfigKeySpec = IntSpec | BoolSpec | EnumSpec | StringSpec;

/**
 * Every configuration key: its kind, environment names, default, bounds or allowed values, and doc. The
 * {@link Config} type is inferred from it; docs/configuration.md is checked against it by a test.
 */
// One row per key: kept on one line each, as a table.
// prettier-ignore
export const CONFIG_SCHEMA = {
  port: { kind: "int", env: ["PORT", "SWITCHBOARD_PORT"], default: 8080, min: 0, max: 65535, flag: { short: "-p", arg: "port" }, doc: "TCP port to listen on; 0 takes a free one." },
  host: { kind: "string", env: ["HOST", "SWITCHBOARD_HOST"], default: "127.0.0.1", flag: { short: "-H", arg: "host" }, doc: "Interface to bind. Loopback by default: exposing the hub is a choice." },
  basePath: { kind: "string", env: ["BASE_PATH", "SWITCHBOARD_BASE_PATH"], default: "/api", allowEmpty: true, flag: { arg: "path" }, doc: "Prefix of every HTTP API route. Empty string serves them from the root." },
  databaseUrl: { kind: "string", env: ["DATABASE_URL", "SWITCHBOARD_DATABASE_URL"], default: "sqlite:./data/switchboard.db", flag: { arg: "url" }, doc: "`sqlite:PATH`, a bare file path, or `postgres://…`." },
  dbHost: { kind: "string", env: ["DB_HOST", "SWITCHBOARD_DB_HOST"], default: "localhost", doc: "Simple Event Handler's variables: PostgreSQL host of the `DATABASE_URL` made up when that is unset and any `DB_*` is set." },
  dbPort: { kind: "int", env: ["DB_PORT", "SWITCHBOARD_DB_PORT"], default: 5432, min: 1, max: 65535, doc: "PostgreSQL port of the made-up `DATABASE_URL` (see dbHost)." },
  dbUsername: { kind: "string", env: ["DB_USERNAME", "SWITCHBOARD_DB_USERNAME"], default: "", doc: "PostgreSQL user of the made-up `DATABASE_URL` (see dbHost)." },
  dbPassword: { kind: "string", env: ["DB_PASSWORD", "SWITCHBOARD_DB_PASSWORD"], default: "", doc: "PostgreSQL password of the made-up `DATABASE_URL` (see dbHost)." },
  dbName: { kind: "string", env: ["DB_NAME", "DB_DATABASE", "SWITCHBOARD_DB_NAME"], default: "", doc: "PostgreSQL database of the made-up `DATABASE_URL` (see dbHost); required when it is made up." },
  dbSchema: { kind: "string", env: ["DB_SCHEMA", "SWITCHBOARD_DB_SCHEMA"], default: "", doc: "PostgreSQL schema the store's tables live in (its `search_path`), created at start if missing; empty: the server's default (`public`)." },
  logLevel: { kind: "enum", env: ["LOG_LEVEL", "SWITCHBOARD_LOG_LEVEL"], values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info", flag: { arg: "level" }, doc: "pino level: fatal, error, warn, info, debug, trace or silent." },
  bodyLimitBytes: { kind: "int", env: ["SWITCHBOARD_BODY_LIMIT_BYTES"], default: 1024 * 1024, min: 1024, max: 100 * 1024 * 1024, doc: "Largest request body accepted, in bytes." },
  requestTimeoutMs: { kind: "int", env: ["SWITCHBOARD_REQUEST_TIMEOUT_MS"], default: 10_000, min: 100, max: MAX_TIMER_MS, doc: "Time allowed to receive a whole request, in ms." },
  lingerMaxBytes: { kind: "int", env: ["SWITCHBOARD_LINGER_MAX_BYTES"], default: 16 * 1024 * 1024, min: 0, max: 1024 * 1024 * 1024, doc: "After refusing a request it has not read in full (413, 414, 431), the most bytes of it the hub reads and discards so that the client sees the status, before closing." },
  lingerMaxMs: { kind: "int", env: ["SWITCHBOARD_LINGER_MAX_MS"], default: 5_000, min: 0, max: MAX_TIMER_MS, doc: "How long the hub goes on reading and discarding such a request before closing, in ms." },
  keepAliveTimeoutMs: { kind: "int", env: ["SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS"], default: 60_000, min: 100, max: MAX_TIMER_MS, doc: "How long an idle keep-alive connection stays open, in ms." },
  console: { kind: "bool", env: ["SWITCHBOARD_CONSOLE"], default: true, doc: "Serve the web console at `/` (at `/console` when BASE_PATH is empty)." },
  autoCreateTopics: { kind: "bool", env: ["SWITCHBOARD_AUTO_CREATE_TOPICS"], default: true, doc: "Publishing to an unknown topic creates it; when false such a publish gets 404." },
  maxBatchEvents: { kind: "int", env: ["SWITCHBOARD_MAX_BATCH_EVENTS"], default: 1000, min: 1, max: 100_000, doc: "Most events in one batch request." },
  sseHeartbeatMs: { kind: "int", env: ["SWITCHBOARD_SSE_HEARTBEAT_MS"], default: 15_000, min: 100, max: MAX_TIMER_MS, doc: "Interval of the SSE heartbeat comment, in ms." },
  sseRetryMs: { kind: "int", env: ["SWITCHBOARD_SSE_RETRY_MS"], default: 2_000, min: 0, max: MAX_TIMER_MS, doc: "Reconnect delay suggested to SSE clients (`retry:`), in ms." },
  sseMaxBufferedBytes: { kind: "int", env: ["SWITCHBOARD_SSE_MAX_BUFFERED_BYTES"], default: 1024 * 1024, min: 4096, doc: "Bytes a stream may have waiting in its socket before it is closed as too slow." },
  sseHoldMs: { kind: "int", env: ["SWITCHBOARD_SSE_HOLD_MS"], default: 20, min: 0, max: 1000, doc: "While the hub is busy, a stream's frames are held at most this many ms and written together; 0 writes every commit at once." },
  sseMaxStreams: { kind: "int", env: ["SWITCHBOARD_SSE_MAX_STREAMS"], default: 50_000, min: 1, doc: "Most concurrent SSE streams; past it a new one gets 503." },
  sqliteSynchronous: { kind: "enum", env: ["SWITCHBOARD_SQLITE_SYNCHRONOUS"], values: ["normal", "full"], default: "normal", doc: "SQLite `synchronous` pragma: `normal` survives process crashes; `full` also survives power loss." },
  shutdownTimeoutMs: { kind: "int", env: ["SWITCHBOARD_SHUTDOWN_TIMEOUT_MS"], default: 10_000, min: 0, max: MAX_TIMER_MS, doc: "Grace period for in-flight work on SIGTERM before the process exits anyway, in ms." },
  allowPrivateTargets: { kind: "bool", env: ["SWITCHBOARD_ALLOW_PRIVATE_TARGETS"], default: false, doc: "Webhook targets on private, loopback or link-local addresses are refused unless this is true." },
  deliveryConcurrency: { kind: "int", env: ["SWITCHBOARD_DELIVERY_CONCURRENCY"], default: 256, min: 1, max: 100_000, doc: "Webhook requests in flight across all subscriptions." },
  webhookTimeoutMs: { kind: "int", env: ["SWITCHBOARD_WEBHOOK_TIMEOUT_MS"], default: 10_000, min: 100, max: 60_000, doc: "Default attempt timeout of new subscriptions, in ms." },
  subscriptionDisableAfterMs: { kind: "int", env: ["SWITCHBOARD_SUBSCRIPTION_DISABLE_AFTER_MS"], default: 3 * 24 * 3_600_000, min: 1000, doc: "A subscription whose every attempt has failed for this many ms is disabled." },
  maxSubscriptions: { kind: "int", env: ["SWITCHBOARD_MAX_SUBSCRIPTIONS"], default: 1_000, min: 1, max: 100_000, doc: "Most webhook subscriptions (publishers included) the hub holds; creating one more gets 409." },
  attemptRetentionMs: { kind: "int", env: ["SWITCHBOARD_ATTEMPT_RETENTION_MS"], default: 30 * 24 * 3_600_000, min: 60_000, doc: "Delivery attempts older than this many ms are removed." },
  eventRetentionMs: { kind: "int", env: ["SWITCHBOARD_EVENT_RETENTION_MS"], default: 0, min: 0, doc: "Events received longer ago than this many ms are removed, unless their topic sets its own `retention_ms`; 0 keeps them." },
  rollups: { kind: "bool", env: ["SWITCHBOARD_ROLLUPS"], default: true, doc: "Write the per-minute rollups at commit (`/api/stats`, the console's charts); false saves their writes, and the stats routes answer 409 `SB_ROLLUPS_OFF`." },
  rollupMinuteRetentionMs: { kind: "int", env: ["SWITCHBOARD_ROLLUP_MINUTE_RETENTION_MS"], default: 7 * 24 * 3_600_000, min: 0, doc: "Per-minute rollups (stats) older than this many ms are removed once their hours are derived; 0 keeps them." },
  rollupHourRetentionMs: { kind: "int", env: ["SWITCHBOARD_ROLLUP_HOUR_RETENTION_MS"], default: 90 * 24 * 3_600_000, min: 0, doc: "Per-hour rollups older than this many ms are removed once their days are derived; 0 keeps them." },
  rollupDayRetentionMs: { kind: "int", env: ["SWITCHBOARD_ROLLUP_DAY_RETENTION_MS"], default: 0, min: 0, doc: "Per-day rollups older than this many ms are removed; 0 keeps them." },
  metricsTopicLabelCap: { kind: "int", env: ["SWITCHBOARD_METRICS_TOPIC_LABEL_CAP"], default: 100, min: 0, max: 10_000, doc: "Most topics with a series of their own in the per-topic Prometheus counters; later topics count under `other`." },
  outboxSweepMs: { kind: "int", env: ["SWITCHBOARD_OUTBOX_SWEEP_MS"], default: 1_000, min: 10, max: MAX_TIMER_MS, doc: "SQLite: how often the outbox relay looks for rows other connections committed, in ms (PostgreSQL is woken by NOTIFY)." },
  pgPartitionSize: { kind: "int", env: ["SWITCHBOARD_PG_PARTITION_SIZE"], default: 10_000_000, min: 1_000, max: 1_000_000_000, doc: "PostgreSQL: events (seq values) per partition of the event log; retention drops a partition once all of it expired." },
  auth: { kind: "enum", env: ["SWITCHBOARD_AUTH"], values: ["auto", "none"], default: "auto", doc: "`auto`: auth is on when any credential is configured (a JWT key or an API key); `none`: explicitly off." },
  jwtSecret: { kind: "string", env: ["SWITCHBOARD_JWT_SECRET", "SWITCH_JWT_SECRET"], default: "", doc: "HS256 secret for JWT bearer tokens (switch's scheme)." },
  jwtPublicKey: { kind: "string", env: ["SWITCHBOARD_JWT_PUBLIC_KEY"], default: "", doc: "PEM public key (RS256/ES256) for JWT bearer tokens." },
  jwksUrl: { kind: "string", env: ["SWITCHBOARD_JWKS_URL"], default: "", doc: "JWKS URL for JWT bearer tokens." },
  jwtIssuer: { kind: "string", env: ["SWITCHBOARD_JWT_ISSUER"], default: "", doc: "Expected `iss` of JWTs, when set." },
  jwtAudience: { kind: "string", env: ["SWITCHBOARD_JWT_AUDIENCE"], default: "", doc: "Expected `aud` of JWTs, when set." },
  jwtRequireExp: { kind: "bool", env: ["SWITCHBOARD_JWT_REQUIRE_EXP"], default: true, doc: "Refuse JWTs without an `exp` claim (a token that never expires cannot be retired); false accepts them." },
  jwtDefaultScopes: { kind: "string", env: ["SWITCHBOARD_JWT_DEFAULT_SCOPES"], default: "", doc: "Scopes (space- or comma-separated) of a valid JWT that has no `scope` or `scp` claim, such as tokens minted for switch; empty: such a token has none (403)." },
  captureHeaders: { kind: "string", env: ["SWITCHBOARD_CAPTURE_HEADERS"], default: "", doc: "Comma-separated names of publish request headers kept with each event (case-insensitive), shown as its `headers` and seen by filters; empty keeps none." },
  rateLimitPublishPerS: { kind: "int", env: ["SWITCHBOARD_RATE_LIMIT_PUBLISH_PER_S"], default: 10_000, min: 0, doc: "Publish requests per second per credential (none with auth off); 0 means no limit." },
  rateLimitApiPerS: { kind: "int", env: ["SWITCHBOARD_RATE_LIMIT_API_PER_S"], default: 1_000, min: 0, doc: "Other API requests per second per credential (none with auth off); 0 means no limit." },
  maxJsonDepth: { kind: "int", env: ["SWITCHBOARD_MAX_JSON_DEPTH"], default: 64, min: 2, max: 1000, doc: "Deepest nesting of a JSON body, in levels." },
  maxStreamsPerCredential: { kind: "int", env: ["SWITCHBOARD_MAX_STREAMS_PER_CREDENTIAL"], default: 1_000, min: 1, doc: "Open SSE streams per credential (none with auth off; `sseMaxStreams` still holds)." },
  corsOrigins: { kind: "string", env: ["SWITCHBOARD_CORS_ORIGINS"], default: "", doc: "Origins allowed by CORS: empty (CORS off), `*`, or a comma-separated list." },
  role: { kind: "enum", env: ["SWITCHBOARD_ROLE"], values: ["all", "api", "worker"], default: "all", flag: { arg: "role" }, doc: "`all` (API, streams, webhook delivery), `api` (no delivery) or `worker` (delivery; HTTP serves only /health, /ready, /metrics)." },
} as const satisfies Record<string, ConfigKeySpec>;

type Schema = typeof CONFIG_SCHEMA;

/** The value type a key spec describes: an enum's own values, else the kind's type. */
type ValueOf<S> = S extends { kind: "int" }
  ? number
  : S extends { kind: "bool" }
    ? boolean
    : S extends { kind: "enum"; values: readonly (infer V)[] }
      ? V
      : string;

/** The hub's configuration, one property per key of {@link CONFIG_SCHEMA} (see its `doc`s). */
export type Config = { -readonly [K in keyof Schema]: ValueOf<Schema[K]> };
