import { readFileSync } from "node:fs";
import { ConfigError } from "./errors.js";

/**
 * One configuration schema. Values come, lowest precedence first, from the defaults below, a JSON file
 * (`SWITCHBOARD_CONFIG` or `--config`), the environment, and command-line flags. The result is validated
 * once at start and frozen. Every key carries its unit in its name.
 */
export interface Config {
  /** TCP port to listen on. */
  port: number;
  /** Interface to bind. Loopback by default: exposing the hub is a choice. */
  host: string;
  /** Prefix of every HTTP API route. Empty string serves them from the root. */
  basePath: string;
  /** `sqlite:PATH`, a bare file path, or `postgres://…`. */
  databaseUrl: string;
  /** pino level. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Largest request body accepted. */
  bodyLimitBytes: number;
  /** Time allowed to receive a whole request. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
  /** Publishing to an unknown topic creates it; when false such a publish gets 404. */
  autoCreateTopics: boolean;
  /** Most events in one batch request. */
  maxBatchEvents: number;
  /** Interval of the SSE heartbeat comment. */
  sseHeartbeatMs: number;
  /** Reconnect delay suggested to SSE clients (`retry:`). */
  sseRetryMs: number;
  /** Bytes a stream may have waiting in its socket before it is closed as too slow. */
  sseMaxBufferedBytes: number;
  /** Most concurrent SSE streams; past it a new one gets 503. */
  sseMaxStreams: number;
  /** SQLite `synchronous` pragma: `normal` survives process crashes; `full` also survives power loss. */
  sqliteSynchronous: "normal" | "full";
  /** Grace period for in-flight work on SIGTERM before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** Webhook targets on private, loopback or link-local addresses are refused unless this is true. */
  allowPrivateTargets: boolean;
  /** Webhook requests in flight across all subscriptions. */
  deliveryConcurrency: number;
  /** Default attempt timeout of new subscriptions. */
  webhookTimeoutMs: number;
  /** A subscription whose every attempt has failed for this long is disabled. */
  subscriptionDisableAfterMs: number;
  /** Most webhook subscriptions (publishers included) the hub holds; creating one more gets 409. */
  maxSubscriptions: number;
  /** Delivery attempts older than this are removed. */
  attemptRetentionMs: number;
  /** Events received longer ago than this are removed, unless their topic sets its own `retention_ms`; 0 keeps them. */
  eventRetentionMs: number;
  /** PostgreSQL: events (seq values) per partition of the event log; retention drops a partition once all of it expired. */
  pgPartitionSize: number;
  /** `auto`: auth is on when any credential is configured (a JWT key or an API key); `none`: explicitly off. */
  auth: "auto" | "none";
  /** HS256 secret for JWT bearer tokens (switch's scheme). */
  jwtSecret: string;
  /** PEM public key (RS256/ES256) for JWT bearer tokens. */
  jwtPublicKey: string;
  /** JWKS URL for JWT bearer tokens. */
  jwksUrl: string;
  /** Expected `iss` of JWTs, when set. */
  jwtIssuer: string;
  /** Expected `aud` of JWTs, when set. */
  jwtAudience: string;
  /** Refuse JWTs without an `exp` claim (a token that never expires cannot be retired); false accepts them. */
  jwtRequireExp: boolean;
  /** Publish requests per second per credential; with auth off there is no credential and no limit; 0 means no limit. */
  rateLimitPublishPerS: number;
  /** Other API requests per second per credential; with auth off there is no credential and no limit; 0 means no limit. */
  rateLimitApiPerS: number;
  /** Deepest nesting of a JSON body. */
  maxJsonDepth: number;
  /** Open SSE streams per credential; with auth off there is no credential and no limit (`sseMaxStreams` still holds). */
  maxStreamsPerCredential: number;
  /** Origins allowed by CORS: empty (CORS off), `*`, or a comma-separated list. */
  corsOrigins: string;
  /**
   * What this node does: `all` (API, streams and webhook delivery), `api` (API and streams, no delivery) or
   * `worker` (webhook delivery; HTTP serves only /health, /ready and /metrics). See docs/clustering.md.
   */
  role: "all" | "api" | "worker";
}

type Kind = "int" | "string" | "bool" | "enum";

interface KeySpec {
  kind: Kind;
  env: readonly string[];
  values?: readonly string[];
  min?: number;
  max?: number;
  /** An empty environment value is a value (not "unset"): `BASE_PATH=` serves the API from the root. */
  allowEmpty?: boolean;
}

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  port: 8080,
  host: "127.0.0.1",
  basePath: "/api",
  databaseUrl: "sqlite:./data/switchboard.db",
  logLevel: "info",
  bodyLimitBytes: 1024 * 1024,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
  autoCreateTopics: true,
  maxBatchEvents: 1000,
  sseHeartbeatMs: 15_000,
  sseRetryMs: 2_000,
  sseMaxBufferedBytes: 1024 * 1024,
  sseMaxStreams: 50_000,
  sqliteSynchronous: "normal",
  shutdownTimeoutMs: 10_000,
  allowPrivateTargets: false,
  deliveryConcurrency: 256,
  webhookTimeoutMs: 10_000,
  subscriptionDisableAfterMs: 3 * 24 * 3_600_000,
  maxSubscriptions: 1_000,
  attemptRetentionMs: 30 * 24 * 3_600_000,
  eventRetentionMs: 0,
  pgPartitionSize: 10_000_000,
  auth: "auto",
  jwtSecret: "",
  jwtPublicKey: "",
  jwksUrl: "",
  jwtIssuer: "",
  jwtAudience: "",
  jwtRequireExp: true,
  rateLimitPublishPerS: 10_000,
  rateLimitApiPerS: 1_000,
  maxJsonDepth: 64,
  maxStreamsPerCredential: 1_000,
  corsOrigins: "",
  role: "all",
});

/** Node's timers take at most 2^31 - 1 ms; a longer delay fires at once (a heartbeat would spin). */
const MAX_TIMER_MS = 2_147_483_647;

const SCHEMA: { [K in keyof Config]: KeySpec } = {
  port: { kind: "int", env: ["PORT", "SWITCHBOARD_PORT"], min: 0, max: 65535 },
  host: { kind: "string", env: ["HOST", "SWITCHBOARD_HOST"] },
  basePath: { kind: "string", env: ["BASE_PATH", "SWITCHBOARD_BASE_PATH"], allowEmpty: true },
  databaseUrl: { kind: "string", env: ["DATABASE_URL", "SWITCHBOARD_DATABASE_URL"] },
  logLevel: {
    kind: "enum",
    env: ["LOG_LEVEL", "SWITCHBOARD_LOG_LEVEL"],
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
  },
  bodyLimitBytes: { kind: "int", env: ["SWITCHBOARD_BODY_LIMIT_BYTES"], min: 1024, max: 100 * 1024 * 1024 },
  requestTimeoutMs: { kind: "int", env: ["SWITCHBOARD_REQUEST_TIMEOUT_MS"], min: 100, max: MAX_TIMER_MS },
  keepAliveTimeoutMs: { kind: "int", env: ["SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS"], min: 100, max: MAX_TIMER_MS },
  autoCreateTopics: { kind: "bool", env: ["SWITCHBOARD_AUTO_CREATE_TOPICS"] },
  maxBatchEvents: { kind: "int", env: ["SWITCHBOARD_MAX_BATCH_EVENTS"], min: 1, max: 100_000 },
  sseHeartbeatMs: { kind: "int", env: ["SWITCHBOARD_SSE_HEARTBEAT_MS"], min: 100, max: MAX_TIMER_MS },
  sseRetryMs: { kind: "int", env: ["SWITCHBOARD_SSE_RETRY_MS"], min: 0, max: MAX_TIMER_MS },
  sseMaxBufferedBytes: { kind: "int", env: ["SWITCHBOARD_SSE_MAX_BUFFERED_BYTES"], min: 4096 },
  sseMaxStreams: { kind: "int", env: ["SWITCHBOARD_SSE_MAX_STREAMS"], min: 1 },
  sqliteSynchronous: { kind: "enum", env: ["SWITCHBOARD_SQLITE_SYNCHRONOUS"], values: ["normal", "full"] },
  shutdownTimeoutMs: { kind: "int", env: ["SWITCHBOARD_SHUTDOWN_TIMEOUT_MS"], min: 0, max: MAX_TIMER_MS },
  allowPrivateTargets: { kind: "bool", env: ["SWITCHBOARD_ALLOW_PRIVATE_TARGETS"] },
  deliveryConcurrency: { kind: "int", env: ["SWITCHBOARD_DELIVERY_CONCURRENCY"], min: 1, max: 100_000 },
  webhookTimeoutMs: { kind: "int", env: ["SWITCHBOARD_WEBHOOK_TIMEOUT_MS"], min: 100, max: 60_000 },
  subscriptionDisableAfterMs: { kind: "int", env: ["SWITCHBOARD_SUBSCRIPTION_DISABLE_AFTER_MS"], min: 1000 },
  maxSubscriptions: { kind: "int", env: ["SWITCHBOARD_MAX_SUBSCRIPTIONS"], min: 1, max: 100_000 },
  attemptRetentionMs: { kind: "int", env: ["SWITCHBOARD_ATTEMPT_RETENTION_MS"], min: 60_000 },
  eventRetentionMs: { kind: "int", env: ["SWITCHBOARD_EVENT_RETENTION_MS"], min: 0 },
  pgPartitionSize: { kind: "int", env: ["SWITCHBOARD_PG_PARTITION_SIZE"], min: 1_000, max: 1_000_000_000 },
  auth: { kind: "enum", env: ["SWITCHBOARD_AUTH"], values: ["auto", "none"] },
  jwtSecret: { kind: "string", env: ["SWITCHBOARD_JWT_SECRET", "SWITCH_JWT_SECRET"] },
  jwtPublicKey: { kind: "string", env: ["SWITCHBOARD_JWT_PUBLIC_KEY"] },
  jwksUrl: { kind: "string", env: ["SWITCHBOARD_JWKS_URL"] },
  jwtIssuer: { kind: "string", env: ["SWITCHBOARD_JWT_ISSUER"] },
  jwtAudience: { kind: "string", env: ["SWITCHBOARD_JWT_AUDIENCE"] },
  jwtRequireExp: { kind: "bool", env: ["SWITCHBOARD_JWT_REQUIRE_EXP"] },
  rateLimitPublishPerS: { kind: "int", env: ["SWITCHBOARD_RATE_LIMIT_PUBLISH_PER_S"], min: 0 },
  rateLimitApiPerS: { kind: "int", env: ["SWITCHBOARD_RATE_LIMIT_API_PER_S"], min: 0 },
  maxJsonDepth: { kind: "int", env: ["SWITCHBOARD_MAX_JSON_DEPTH"], min: 2, max: 1000 },
  maxStreamsPerCredential: { kind: "int", env: ["SWITCHBOARD_MAX_STREAMS_PER_CREDENTIAL"], min: 1 },
  corsOrigins: { kind: "string", env: ["SWITCHBOARD_CORS_ORIGINS"] },
  role: { kind: "enum", env: ["SWITCHBOARD_ROLE"], values: ["all", "api", "worker"] },
};

/** Options of {@link loadConfig}; every source is optional so tests can pass exactly what they mean. */
export interface LoadConfigOptions {
  /** Environment to read; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file; defaults to `env.SWITCHBOARD_CONFIG`. */
  file?: string;
  /** Highest-precedence values, as parsed from command-line flags. */
  overrides?: Partial<Record<keyof Config, unknown>>;
}

/**
 * Builds the frozen configuration: defaults → file → env → overrides.
 * @throws ConfigError naming the first invalid key.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };

  const file = options.file ?? env.SWITCHBOARD_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError("SWITCHBOARD_CONFIG", `cannot read ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError("SWITCHBOARD_CONFIG", `${file} must hold a JSON object`);
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (!Object.hasOwn(SCHEMA, key)) {
        throw new ConfigError(key, `unknown key in ${file}; known keys: ${Object.keys(SCHEMA).join(", ")}`);
      }
      merged[key] = coerce(key, SCHEMA[key as keyof Config], value);
    }
  }

  for (const [key, spec] of Object.entries(SCHEMA) as [keyof Config, KeySpec][]) {
    for (const name of spec.env) {
      const raw = env[name];
      if (raw !== undefined && (raw !== "" || spec.allowEmpty)) {
        merged[key] = coerce(name, spec, raw);
        break;
      }
    }
  }

  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    const spec = SCHEMA[key as keyof Config];
    if (!spec) throw new ConfigError(key, "unknown configuration key");
    merged[key] = coerce(`--${kebab(key)}`, spec, value);
  }

  merged.basePath = normalizeBasePath(merged.basePath as string);
  return Object.freeze(merged as unknown as Config);
}

function coerce(name: string, spec: KeySpec, value: unknown): unknown {
  switch (spec.kind) {
    case "int": {
      const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new ConfigError(name, `expected a whole number, got ${JSON.stringify(value)}`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(name, `must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(name, `must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case "bool": {
      if (typeof value === "boolean") return value;
      const s = String(value).trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return true;
      if (["false", "0", "no", "off"].includes(s)) return false;
      throw new ConfigError(name, `expected true or false, got ${JSON.stringify(value)}`);
    }
    case "enum": {
      const s = String(value).trim().toLowerCase();
      if (!spec.values!.includes(s)) {
        throw new ConfigError(name, `expected one of ${spec.values!.join(", ")}, got ${JSON.stringify(value)}`);
      }
      return s;
    }
    case "string":
      if (typeof value !== "string") throw new ConfigError(name, `expected a string, got ${JSON.stringify(value)}`);
      return value;
  }
}

function normalizeBasePath(path: string): string {
  const trimmed = path.trim().replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(trimmed)) {
    throw new ConfigError("BASE_PATH", `must look like /api, got ${JSON.stringify(path)}`);
  }
  return trimmed;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The environment variable names of every key, for docs and `--help`. */
export function configEnvNames(): Record<keyof Config, readonly string[]> {
  return Object.fromEntries(Object.entries(SCHEMA).map(([k, s]) => [k, s.env])) as Record<keyof Config, readonly string[]>;
}
