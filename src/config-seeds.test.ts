import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, loadConfig, validateConfig, type LoadConfigOptions } from "./config.js";
import { ConfigError } from "./errors.js";

// The keys that come from the seeds' dialects: Simple Event Handler's DB_*, switch's JWTs, captured headers.

function configError(options: LoadConfigOptions): ConfigError {
  try {
    loadConfig(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  return expect.fail("loadConfig did not throw");
}

describe("Simple Event Handler's DB_* variables", () => {
  it("make up a PostgreSQL DATABASE_URL when it is unset", () => {
    const config = loadConfig({ env: { DB_HOST: "db.internal", DB_PORT: "6543", DB_USERNAME: "ev ents", DB_PASSWORD: "p@ss:w/rd", DB_NAME: "events" } });
    expect(config.databaseUrl).toBe("postgres://ev%20ents:p%40ss%3Aw%2Frd@db.internal:6543/events");
    const url = new URL(config.databaseUrl);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.hostname, url.port, url.pathname]).toEqual([
      "ev ents",
      "p@ss:w/rd",
      "db.internal",
      "6543",
      "/events",
    ]);
  });

  it("default the host and port as Simple Event Handler does, and take its DB_DATABASE for DB_NAME", () => {
    expect(loadConfig({ env: { DB_DATABASE: "events", DB_USERNAME: "u" } }).databaseUrl).toBe("postgres://u@localhost:5432/events");
    expect(loadConfig({ env: { DB_NAME: "a", DB_DATABASE: "b" } }).databaseUrl).toBe("postgres://localhost:5432/a");
  });

  it("put DB_SCHEMA into the search_path", () => {
    const config = loadConfig({ env: { DB_NAME: "events", DB_SCHEMA: "hub" } });
    expect(new URL(config.databaseUrl).searchParams.get("options")).toBe("-c search_path=hub");
    // A DATABASE_URL that is set wins over the other DB_*, but takes the schema, next to its own options.
    const set = loadConfig({ env: { DATABASE_URL: "postgres://x@h/d?options=-c%20statement_timeout%3D5s", DB_HOST: "ignored", DB_SCHEMA: "hub" } });
    expect(set.databaseUrl.startsWith("postgres://x@h/d?")).toBe(true);
    expect(new URL(set.databaseUrl).searchParams.get("options")).toBe("-c statement_timeout=5s -c search_path=hub");
  });

  it("leave DATABASE_URL alone when none is set, or when it is set", () => {
    expect(loadConfig({ env: {} }).databaseUrl).toBe(DEFAULT_CONFIG.databaseUrl);
    expect(loadConfig({ env: { DATABASE_URL: "sqlite:/tmp/x.db", DB_NAME: "events" } }).databaseUrl).toBe("sqlite:/tmp/x.db");
    expect(loadConfig({ env: { DB_NAME: "events" }, overrides: { databaseUrl: "sqlite:/tmp/y.db" } }).databaseUrl).toBe("sqlite:/tmp/y.db");
  });

  it("stop the start with a clear error when they cannot make a URL", () => {
    expect(configError({ env: { DB_HOST: "db" } }).message).toBe(
      "invalid configuration: DB_NAME: is needed to make up DATABASE_URL from the DB_* variables (or set DATABASE_URL)",
    );
    expect(configError({ env: { DB_NAME: "e", DB_SCHEMA: "a; DROP" } }).message).toMatch(/^invalid configuration: DB_SCHEMA: must be a plain identifier/);
    expect(configError({ env: { DATABASE_URL: "sqlite:/tmp/x.db", DB_SCHEMA: "hub" } }).message).toBe(
      "invalid configuration: DB_SCHEMA: applies to PostgreSQL only; DATABASE_URL is not a postgres:// URL",
    );
    expect(configError({ env: { DB_NAME: "e", DB_PORT: "x" } }).message).toMatch(/^invalid configuration: DB_PORT: expected a whole number/);
  });

  it("work through validateConfig too (library mode)", () => {
    expect(validateConfig({ dbName: "events", dbUsername: "u" }).databaseUrl).toBe("postgres://u@localhost:5432/events");
  });
});

describe("list settings", () => {
  it("check the captured header names and the default JWT scopes at start", () => {
    expect(loadConfig({ env: { SWITCHBOARD_CAPTURE_HEADERS: "X-Request-Id, traceparent" } }).captureHeaders).toBe("X-Request-Id, traceparent");
    expect(configError({ env: { SWITCHBOARD_CAPTURE_HEADERS: "x-ok, bad header:" } }).message).toBe(
      'invalid configuration: SWITCHBOARD_CAPTURE_HEADERS: "header:" is not a header name',
    );
    const many = Array.from({ length: 33 }, (_, i) => `x-h${i}`).join(",");
    expect(configError({ env: { SWITCHBOARD_CAPTURE_HEADERS: many } }).message).toMatch(/lists 33 headers; at most 32/);
    expect(loadConfig({ env: { SWITCHBOARD_JWT_DEFAULT_SCOPES: "publish:** subscribe:orders.*" } }).jwtDefaultScopes).toBe("publish:** subscribe:orders.*");
    expect(configError({ env: { SWITCHBOARD_JWT_DEFAULT_SCOPES: "root" } }).message).toMatch(
      /^invalid configuration: SWITCHBOARD_JWT_DEFAULT_SCOPES: scope "root" must be/,
    );
  });
});
