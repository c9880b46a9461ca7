import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configEnvNames, configFlags, DEFAULT_CONFIG, loadConfig, validateConfig, type Config, type LoadConfigOptions } from "./config.js";
import { ConfigError } from "./errors.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "switchboard-config-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a config file and returns its path. */
function configFile(content: unknown, name = "switchboard.json"): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function configError(options: LoadConfigOptions): ConfigError {
  try {
    loadConfig(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  return expect.fail("loadConfig did not throw");
}

describe("loadConfig", () => {
  it("gives the defaults when nothing is set", () => {
    const config = loadConfig({ env: {} });
    expect(config).toEqual({
      port: 8080,
      host: "127.0.0.1",
      basePath: "/api",
      databaseUrl: "sqlite:./data/switchboard.db",
      dbHost: "localhost",
      dbPort: 5432,
      dbUsername: "",
      dbPassword: "",
      dbName: "",
      dbSchema: "",
      logLevel: "info",
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 10_000,
      lingerMaxBytes: 16 * 1024 * 1024,
      lingerMaxMs: 5_000,
      keepAliveTimeoutMs: 60_000,
      console: true,
      autoCreateTopics: true,
      maxBatchEvents: 1000,
      sseHeartbeatMs: 15_000,
      sseRetryMs: 2_000,
      sseMaxBufferedBytes: 1_048_576,
      sseHoldMs: 20,
      sseMaxStreams: 50_000,
      sqliteSynchronous: "normal",
      shutdownTimeoutMs: 10_000,
      allowPrivateTargets: false,
      deliveryConcurrency: 256,
      webhookTimeoutMs: 10_000,
      subscriptionDisableAfterMs: 259_200_000,
      maxSubscriptions: 1_000,
      attemptRetentionMs: 2_592_000_000,
      eventRetentionMs: 0,
      rollups: true,
      rollupMinuteRetentionMs: 604_800_000,
      rollupHourRetentionMs: 7_776_000_000,
      rollupDayRetentionMs: 0,
      metricsTopicLabelCap: 100,
      outboxSweepMs: 1_000,
      pgPartitionSize: 10_000_000,
      auth: "auto",
      jwtSecret: "",
      jwtPublicKey: "",
      jwksUrl: "",
      jwtIssuer: "",
      jwtAudience: "",
      jwtRequireExp: true,
      jwtDefaultScopes: "",
      captureHeaders: "",
      rateLimitPublishPerS: 10_000,
      rateLimitApiPerS: 1_000,
      maxJsonDepth: 64,
      maxStreamsPerCredential: 1_000,
      corsOrigins: "",
      role: "all",
    });
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  it("is frozen", () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(Object.isFrozen(DEFAULT_CONFIG)).toBe(true);
  });

  it("takes file < env < overrides", () => {
    const file = configFile({ port: 1000, host: "0.0.0.0", logLevel: "debug", maxBatchEvents: 10 });
    const config = loadConfig({
      file,
      env: { PORT: "2000", LOG_LEVEL: "warn" },
      overrides: { port: 3000, databaseUrl: "sqlite:/tmp/x.db" },
    });
    expect(config.port).toBe(3000); // override over env over file
    expect(config.logLevel).toBe("warn"); // env over file
    expect(config.host).toBe("0.0.0.0"); // file over default
    expect(config.maxBatchEvents).toBe(10);
    expect(config.databaseUrl).toBe("sqlite:/tmp/x.db");
    expect(config.sseRetryMs).toBe(DEFAULT_CONFIG.sseRetryMs);
  });

  it("finds the file through SWITCHBOARD_CONFIG, and options.file wins over it", () => {
    const fromEnv = configFile({ port: 1111 }, "env.json");
    const fromOption = configFile({ port: 2222 }, "option.json");
    expect(loadConfig({ env: { SWITCHBOARD_CONFIG: fromEnv } }).port).toBe(1111);
    expect(loadConfig({ env: { SWITCHBOARD_CONFIG: fromEnv }, file: fromOption }).port).toBe(2222);
  });

  it("reads every key from the environment, under either name", () => {
    const config = loadConfig({
      env: {
        SWITCHBOARD_PORT: "9001",
        HOST: "0.0.0.0",
        SWITCHBOARD_BASE_PATH: "/v1",
        DATABASE_URL: "postgres://db/hub",
        SWITCHBOARD_DB_HOST: "pg.internal",
        DB_PORT: "6543",
        DB_USERNAME: "user",
        DB_PASSWORD: "pw",
        DB_DATABASE: "events",
        DB_SCHEMA: "hub",
        SWITCHBOARD_LOG_LEVEL: "DEBUG",
        SWITCHBOARD_BODY_LIMIT_BYTES: "2048",
        SWITCHBOARD_REQUEST_TIMEOUT_MS: "500",
        SWITCHBOARD_LINGER_MAX_BYTES: "4096",
        SWITCHBOARD_LINGER_MAX_MS: "500",
        SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS: "600",
        SWITCHBOARD_CONSOLE: "false",
        SWITCHBOARD_AUTO_CREATE_TOPICS: "no",
        SWITCHBOARD_MAX_BATCH_EVENTS: "7",
        SWITCHBOARD_SSE_HEARTBEAT_MS: "100",
        SWITCHBOARD_SSE_RETRY_MS: "0",
        SWITCHBOARD_SSE_MAX_BUFFERED_BYTES: "4096",
        SWITCHBOARD_SSE_HOLD_MS: "5",
        SWITCHBOARD_SSE_MAX_STREAMS: "3",
        SWITCHBOARD_SQLITE_SYNCHRONOUS: "Full",
        SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: " 0 ",
        SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true",
        SWITCHBOARD_DELIVERY_CONCURRENCY: "8",
        SWITCHBOARD_WEBHOOK_TIMEOUT_MS: "2500",
        SWITCHBOARD_SUBSCRIPTION_DISABLE_AFTER_MS: "60000",
        SWITCHBOARD_MAX_SUBSCRIPTIONS: "50",
        SWITCHBOARD_ATTEMPT_RETENTION_MS: "120000",
        SWITCHBOARD_EVENT_RETENTION_MS: "86400000",
        SWITCHBOARD_ROLLUP_MINUTE_RETENTION_MS: "60000",
        SWITCHBOARD_ROLLUP_HOUR_RETENTION_MS: "3600000",
        SWITCHBOARD_ROLLUP_DAY_RETENTION_MS: "86400000",
        SWITCHBOARD_METRICS_TOPIC_LABEL_CAP: "5",
        SWITCHBOARD_OUTBOX_SWEEP_MS: "250",
        SWITCHBOARD_PG_PARTITION_SIZE: "5000000",
        SWITCHBOARD_AUTH: "none",
        SWITCH_JWT_SECRET: "s3cret",
        SWITCHBOARD_JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----",
        SWITCHBOARD_JWKS_URL: "https://idp.example/jwks",
        SWITCHBOARD_JWT_ISSUER: "idp",
        SWITCHBOARD_JWT_AUDIENCE: "hub",
        SWITCHBOARD_JWT_REQUIRE_EXP: "false",
        SWITCHBOARD_JWT_DEFAULT_SCOPES: "publish:**",
        SWITCHBOARD_CAPTURE_HEADERS: "x-request-id",
        SWITCHBOARD_RATE_LIMIT_PUBLISH_PER_S: "5",
        SWITCHBOARD_RATE_LIMIT_API_PER_S: "0",
        SWITCHBOARD_MAX_JSON_DEPTH: "10",
        SWITCHBOARD_MAX_STREAMS_PER_CREDENTIAL: "2",
        SWITCHBOARD_CORS_ORIGINS: "https://a.example",
        SWITCHBOARD_ROLE: "worker",
      },
    });
    expect(config).toEqual({
      port: 9001,
      host: "0.0.0.0",
      basePath: "/v1",
      databaseUrl: "postgres://db/hub?options=-c+search_path%3Dhub",
      dbHost: "pg.internal",
      dbPort: 6543,
      dbUsername: "user",
      dbPassword: "pw",
      dbName: "events",
      dbSchema: "hub",
      logLevel: "debug",
      bodyLimitBytes: 2048,
      requestTimeoutMs: 500,
      lingerMaxBytes: 4096,
      lingerMaxMs: 500,
      keepAliveTimeoutMs: 600,
      console: false,
      autoCreateTopics: false,
      maxBatchEvents: 7,
      sseHeartbeatMs: 100,
      sseRetryMs: 0,
      sseMaxBufferedBytes: 4096,
      sseHoldMs: 5,
      sseMaxStreams: 3,
      sqliteSynchronous: "full",
      shutdownTimeoutMs: 0,
      allowPrivateTargets: true,
      deliveryConcurrency: 8,
      webhookTimeoutMs: 2500,
      subscriptionDisableAfterMs: 60_000,
      maxSubscriptions: 50,
      attemptRetentionMs: 120_000,
      eventRetentionMs: 86_400_000,
      rollups: true,
      rollupMinuteRetentionMs: 60_000,
      rollupHourRetentionMs: 3_600_000,
      rollupDayRetentionMs: 86_400_000,
      metricsTopicLabelCap: 5,
      outboxSweepMs: 250,
      pgPartitionSize: 5_000_000,
      auth: "none",
      jwtSecret: "s3cret",
      jwtPublicKey: "-----BEGIN PUBLIC KEY-----",
      jwksUrl: "https://idp.example/jwks",
      jwtIssuer: "idp",
      jwtAudience: "hub",
      jwtRequireExp: false,
      jwtDefaultScopes: "publish:**",
      captureHeaders: "x-request-id",
      rateLimitPublishPerS: 5,
      rateLimitApiPerS: 0,
      maxJsonDepth: 10,
      maxStreamsPerCredential: 2,
      corsOrigins: "https://a.example",
      role: "worker",
    });
  });

  it("prefers the first environment name", () => {
    expect(loadConfig({ env: { PORT: "1", SWITCHBOARD_PORT: "2" } }).port).toBe(1);
  });

  it("ignores an empty environment value", () => {
    expect(loadConfig({ env: { PORT: "", LOG_LEVEL: "" } })).toEqual(DEFAULT_CONFIG);
  });

  it.each<[string, boolean]>([
    ["true", true],
    ["1", true],
    ["YES", true],
    ["on", true],
    ["false", false],
    ["0", false],
    ["No", false],
    ["off", false],
  ])("reads the boolean %j", (raw, expected) => {
    expect(loadConfig({ env: { SWITCHBOARD_AUTO_CREATE_TOPICS: raw } }).autoCreateTopics).toBe(expected);
  });

  it("accepts numbers given as digit strings in the file and overrides", () => {
    expect(loadConfig({ env: {}, file: configFile({ port: "8081" }) }).port).toBe(8081);
    expect(loadConfig({ env: {}, overrides: { port: "8082", autoCreateTopics: false } })).toMatchObject({
      port: 8082,
      autoCreateTopics: false,
    });
  });

  it("skips undefined overrides", () => {
    expect(loadConfig({ env: { PORT: "1234" }, overrides: { port: undefined } }).port).toBe(1234);
  });

  // [env, key named, message]
  const invalidEnv: Array<[Record<string, string>, string, RegExp]> = [
    [{ PORT: "abc" }, "PORT", /expected a whole number, got "abc"/],
    [{ PORT: "80.5" }, "PORT", /expected a whole number/],
    [{ PORT: "70000" }, "PORT", /must be at most 65535, got 70000/],
    [{ SWITCHBOARD_PORT: "-1" }, "SWITCHBOARD_PORT", /must be at least 0, got -1/],
    // Past Node's largest timer delay a timer fires at once: a heartbeat would spin.
    [{ SWITCHBOARD_SSE_HEARTBEAT_MS: "3000000000" }, "SWITCHBOARD_SSE_HEARTBEAT_MS", /must be at most 2147483647, got 3000000000/],
    [{ SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: "2147483648" }, "SWITCHBOARD_SHUTDOWN_TIMEOUT_MS", /must be at most 2147483647/],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    [{ SWITCHBOARD_AUTO_CREATE_TOPICS: "maybe" }, "SWITCHBOARD_AUTO_CREATE_TOPICS", /expected true or false, got "maybe"/],
    [{ SWITCHBOARD_MAX_BATCH_EVENTS: "0" }, "SWITCHBOARD_MAX_BATCH_EVENTS", /must be at least 1/],
    [{ SWITCHBOARD_BODY_LIMIT_BYTES: "1e6" }, "SWITCHBOARD_BODY_LIMIT_BYTES", /expected a whole number/],
    [{ SWITCHBOARD_SQLITE_SYNCHRONOUS: "off" }, "SWITCHBOARD_SQLITE_SYNCHRONOUS", /expected one of normal, full/],
    [{ PORT: "99999999999999999999" }, "PORT", /expected a whole number/],
    [{ BASE_PATH: "api" }, "BASE_PATH", /must look like \/api, got "api"/],
    [{ BASE_PATH: "/a b" }, "BASE_PATH", /must look like \/api/],
    [{ BASE_PATH: "/api?x=1" }, "BASE_PATH", /must look like \/api/],
  ];

  it.each(invalidEnv)("refuses %j naming %s", (env, key, message) => {
    const error = configError({ env });
    expect(error.key).toBe(key);
    expect(error.message).toMatch(new RegExp(`^invalid configuration: ${key}: `));
    expect(error.message).toMatch(message);
  });

  it("names the key of a bad file value", () => {
    const error = configError({ env: {}, file: configFile({ port: "eighty" }) });
    expect(error.key).toBe("port");
    expect(error.message).toMatch(/expected a whole number, got "eighty"/);
    expect(configError({ env: {}, file: configFile({ host: 5 }) }).key).toBe("host");
    expect(configError({ env: {}, file: configFile({ autoCreateTopics: "perhaps" }) }).key).toBe("autoCreateTopics");
  });

  it("refuses an unknown key in the file", () => {
    const file = configFile({ port: 1, prot: 2 });
    const error = configError({ env: {}, file });
    expect(error.key).toBe("prot");
    expect(error.message).toContain(`unknown key in ${file}`);
    expect(error.message).toContain("known keys: port, host, basePath");
  });

  it("refuses a file that is missing, not JSON, or not an object", () => {
    const missing = configError({ env: {}, file: join(dir, "nope.json") });
    expect(missing.key).toBe("SWITCHBOARD_CONFIG");
    expect(missing.message).toContain("cannot read");
    expect(configError({ env: {}, file: configFile("{port: 1}") }).message).toContain("cannot read");
    expect(configError({ env: {}, file: configFile([1]) }).message).toContain("must hold a JSON object");
    expect(configError({ env: {}, file: configFile("null") }).message).toContain("must hold a JSON object");
  });

  it("names the flag of a bad override, and refuses an unknown one", () => {
    const bad = configError({ env: {}, overrides: { logLevel: "loud" } });
    expect(bad.key).toBe("--log-level");
    expect(configError({ env: {}, overrides: { port: "x" } }).key).toBe("--port");
    const unknown = configError({ env: {}, overrides: { colour: "blue" } as LoadConfigOptions["overrides"] });
    expect(unknown.key).toBe("colour");
  });

  it.each<[string, string]>([
    ["/api", "/api"],
    ["/api/", "/api"],
    ["/api///", "/api"],
    [" /v1/ ", "/v1"],
    ["/hub/v1", "/hub/v1"],
    ["/", ""],
  ])("normalises the base path %j to %j", (raw, expected) => {
    expect(loadConfig({ env: { BASE_PATH: raw } }).basePath).toBe(expected);
    expect(loadConfig({ env: {}, overrides: { basePath: raw } }).basePath).toBe(expected);
  });

  it("allows an empty base path, from every source", () => {
    expect(loadConfig({ env: {}, file: configFile({ basePath: "" }) }).basePath).toBe("");
    expect(loadConfig({ env: {}, overrides: { basePath: "" } }).basePath).toBe("");
    expect(loadConfig({ env: { BASE_PATH: "" } }).basePath).toBe("");
    expect(loadConfig({ env: { SWITCHBOARD_BASE_PATH: "" } }).basePath).toBe("");
  });
});

describe("configFlags", () => {
  it("gives the serve flags, long forms named as loadConfig names a bad override", () => {
    expect(configFlags().map((f) => f.flags)).toEqual([
      "-p, --port <port>",
      "-H, --host <host>",
      "--base-path <path>",
      "--database-url <url>",
      "--log-level <level>",
      "--role <role>",
    ]);
    expect(configFlags()[0]!.description).toBe("TCP port to listen on; 0 takes a free one (env PORT, default 8080)");
    expect(configFlags().find((f) => f.key === "role")!.description).toMatch(/\(env SWITCHBOARD_ROLE, default all\)$/);
  });
});

describe("configEnvNames", () => {
  it("lists the environment names of every key", () => {
    const names = configEnvNames();
    expect(Object.keys(names).sort()).toEqual(Object.keys(DEFAULT_CONFIG).sort());
    expect(names.port).toEqual(["PORT", "SWITCHBOARD_PORT"]);
    expect(names.logLevel).toEqual(["LOG_LEVEL", "SWITCHBOARD_LOG_LEVEL"]);
    expect(names.sseMaxStreams).toEqual(["SWITCHBOARD_SSE_MAX_STREAMS"]);
  });
});

describe("validateConfig", () => {
  it("accepts every default", () => {
    expect(validateConfig(DEFAULT_CONFIG)).toEqual(DEFAULT_CONFIG);
    expect(validateConfig({})).toEqual(DEFAULT_CONFIG);
  });

  it("coerces and normalises like loadConfig, and freezes", () => {
    const config = validateConfig({ port: "9000", logLevel: "DEBUG", basePath: "/v1/", autoCreateTopics: "no", host: undefined });
    expect(config).toMatchObject({ port: 9000, logLevel: "debug", basePath: "/v1", autoCreateTopics: false, host: "127.0.0.1" });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ port: 70000 }, "port", /must be at most 65535, got 70000/],
    [{ maxJsonDepth: 1 }, "maxJsonDepth", /must be at least 2, got 1/],
    [{ role: "boss" }, "role", /expected one of all, api, worker, got "boss"/],
    [{ jwtSecret: 1 }, "jwtSecret", /expected a string, got 1/],
    [{ basePath: "/a b" }, "basePath", /must look like \/api/],
    [{ colour: "blue" }, "colour", /unknown configuration key/],
  ])("refuses %j naming the key %s", (values, key, message) => {
    try {
      validateConfig(values as Partial<Config>);
      expect.fail("validateConfig did not throw");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).key).toBe(key);
      expect((error as ConfigError).message).toMatch(new RegExp(`^invalid configuration: ${key}: `));
      expect((error as ConfigError).message).toMatch(message);
    }
  });
});
