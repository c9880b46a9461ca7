import { readFileSync } from "node:fs";
import { CONFIG_SCHEMA, type Config, type ConfigKeySpec } from "./config-schema.js";
import { scopeProblem } from "./auth/scopes.js";
import { ConfigError } from "./errors.js";

export { CONFIG_SCHEMA, type Config, type ConfigKeySpec } from "./config-schema.js";

/**
 * One configuration schema (`config-schema.ts`). Values come, lowest precedence first, from its defaults, a JSON
 * file (`SWITCHBOARD_CONFIG` or `--config`), the environment, and command-line flags. The result is validated
 * once at start and frozen. Every key carries its unit in its name.
 */

const KEYS = Object.keys(CONFIG_SCHEMA) as (keyof Config)[];

function specOf(key: string): ConfigKeySpec | undefined {
  return Object.hasOwn(CONFIG_SCHEMA, key) ? (CONFIG_SCHEMA[key as keyof Config] as ConfigKeySpec) : undefined;
}

/** The default of every key. */
export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze(Object.fromEntries(KEYS.map((key) => [key, CONFIG_SCHEMA[key].default])) as Config);

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
  /** Keys some source set (not left at their defaults): a made-up DATABASE_URL depends on which were. */
  const given = new Set<string>();

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
      const spec = specOf(key);
      if (!spec) throw new ConfigError(key, `unknown key in ${file}; known keys: ${KEYS.join(", ")}`);
      merged[key] = coerce(key, spec, value);
      given.add(key);
    }
  }

  for (const key of KEYS) {
    const spec: ConfigKeySpec = CONFIG_SCHEMA[key];
    for (const name of spec.env) {
      const raw = env[name];
      if (raw !== undefined && (raw !== "" || (spec.kind === "string" && spec.allowEmpty))) {
        merged[key] = coerce(name, spec, raw);
        given.add(key);
        break;
      }
    }
  }

  assignValues(merged, options.overrides ?? {}, (key) => `--${kebab(key)}`);
  for (const [key, value] of Object.entries(options.overrides ?? {})) if (value !== undefined) given.add(key);
  merged.basePath = normalizeBasePath("BASE_PATH", merged.basePath as string);
  checkDerived(merged, given, (key) => CONFIG_SCHEMA[key as keyof Config].env[0]!);
  return Object.freeze(merged as Config);
}

/**
 * Checks `values` (configuration keys, as a library caller gives them to `createHub`) the same way as
 * {@link loadConfig} checks its sources, over the defaults; undefined values are skipped.
 * @throws ConfigError naming the first invalid or unknown key.
 * @example validateConfig({ port: 0, logLevel: "silent" })
 */
export function validateConfig(values: Partial<Record<keyof Config, unknown>>): Readonly<Config> {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  assignValues(merged, values, (key) => key);
  merged.basePath = normalizeBasePath("basePath", merged.basePath as string);
  checkDerived(merged, new Set(Object.keys(values).filter((k) => values[k as keyof Config] !== undefined)), (key) => key);
  return Object.freeze(merged as Config);
}

/** Coerces each defined value into `merged`; a bad value is reported under `nameOf(key)`. */
function assignValues(merged: Record<string, unknown>, values: Record<string, unknown>, nameOf: (key: string) => string): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const spec = specOf(key);
    if (!spec) throw new ConfigError(key, "unknown configuration key");
    merged[key] = coerce(nameOf(key), spec, value);
  }
}

function coerce(name: string, spec: ConfigKeySpec, value: unknown): unknown {
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
      if (!spec.values.includes(s)) {
        throw new ConfigError(name, `expected one of ${spec.values.join(", ")}, got ${JSON.stringify(value)}`);
      }
      return s;
    }
    case "string":
      if (typeof value !== "string") throw new ConfigError(name, `expected a string, got ${JSON.stringify(value)}`);
      return value;
  }
}

const DB_KEYS = ["dbHost", "dbPort", "dbUsername", "dbPassword", "dbName", "dbSchema"] as const;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Most header names `captureHeaders` may list. */
export const MAX_CAPTURE_HEADERS = 32;

/**
 * The checks across keys and of list values: Simple Event Handler's `DB_*` make up `databaseUrl` when no source
 * set it; `dbSchema` joins its `search_path`; `captureHeaders` and `jwtDefaultScopes` are parsed once here so that a
 * typo stops the start. `given` holds the keys a source set; `nameOf` names a key in errors.
 */
function checkDerived(merged: Record<string, unknown>, given: Set<string>, nameOf: (key: string) => string): void {
  if (merged.dbSchema !== "" && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(merged.dbSchema as string)) {
    throw new ConfigError(nameOf("dbSchema"), `must be a plain identifier (letters, digits, _), got ${JSON.stringify(merged.dbSchema)}`);
  }
  const dbGiven = DB_KEYS.some((k) => given.has(k));
  if (dbGiven && !given.has("databaseUrl")) {
    if (merged.dbName === "") {
      throw new ConfigError(nameOf("dbName"), "is needed to make up DATABASE_URL from the DB_* variables (or set DATABASE_URL)");
    }
    merged.databaseUrl = composeDatabaseUrl(merged as unknown as Config);
  } else if (merged.dbSchema !== "") {
    const url = merged.databaseUrl as string;
    if (!/^postgres(ql)?:\/\//i.test(url)) throw new ConfigError(nameOf("dbSchema"), "applies to PostgreSQL only; DATABASE_URL is not a postgres:// URL");
    merged.databaseUrl = withSearchPath(url, merged.dbSchema as string);
  }
  const names = listSetting(merged.captureHeaders as string);
  const bad = names.find((n) => !HEADER_NAME.test(n));
  if (bad !== undefined) throw new ConfigError(nameOf("captureHeaders"), `${JSON.stringify(bad)} is not a header name`);
  if (names.length > MAX_CAPTURE_HEADERS) throw new ConfigError(nameOf("captureHeaders"), `lists ${names.length} headers; at most ${MAX_CAPTURE_HEADERS}`);
  for (const scope of listSetting(merged.jwtDefaultScopes as string)) {
    const problem = scopeProblem(scope);
    if (problem !== undefined) throw new ConfigError(nameOf("jwtDefaultScopes"), problem);
  }
}

/** `postgres://user:password@host:port/name`, with `?options=-c search_path=…` when `dbSchema` is set. */
function composeDatabaseUrl(c: Config): string {
  const user = c.dbUsername === "" ? "" : `${encodeURIComponent(c.dbUsername)}${c.dbPassword === "" ? "" : `:${encodeURIComponent(c.dbPassword)}`}@`;
  const host = c.dbHost.includes(":") && !c.dbHost.startsWith("[") ? `[${c.dbHost}]` : c.dbHost;
  const url = `postgres://${user}${host}:${c.dbPort}/${encodeURIComponent(c.dbName)}`;
  return c.dbSchema === "" ? url : withSearchPath(url, c.dbSchema);
}

/** The url with its `options` parameter (node-postgres passes it to the server) setting `search_path`. */
function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  const options = u.searchParams.get("options");
  u.searchParams.set("options", `${options ? `${options} ` : ""}-c search_path=${schema}`);
  return u.toString();
}

/**
 * The items of a list setting (`captureHeaders`, `jwtDefaultScopes`): split on commas and whitespace, empty ones
 * dropped.
 * @example listSetting("publish:** , subscribe:**") // ["publish:**", "subscribe:**"]
 */
export function listSetting(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s !== "");
}

function normalizeBasePath(name: string, path: string): string {
  const trimmed = path.trim().replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(trimmed)) {
    throw new ConfigError(name, `must look like /api, got ${JSON.stringify(path)}`);
  }
  return trimmed;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** A configuration key `switchboard serve` takes as a flag. */
export interface ConfigFlag {
  key: keyof Config;
  /** As commander takes it: `-p, --port <port>`. The long form is the one {@link loadConfig} names in errors. */
  flags: string;
  /** The key's doc, environment name and default, for `--help`. */
  description: string;
}

/** The `serve` flags, in schema order. */
export function configFlags(): ConfigFlag[] {
  return KEYS.flatMap((key) => {
    const spec: ConfigKeySpec = CONFIG_SCHEMA[key];
    if (!spec.flag) return [];
    const { short, arg } = spec.flag;
    const doc = spec.doc.replace(/\.$/, "").replaceAll("`", "");
    const fallback = spec.default === "" ? "" : `, default ${spec.default}`;
    return [{ key, flags: `${short ? `${short}, ` : ""}--${kebab(key)} <${arg}>`, description: `${doc} (env ${spec.env[0]}${fallback})` }];
  });
}

/** The environment variable names of every key, for docs and `--help`. */
export function configEnvNames(): Record<keyof Config, readonly string[]> {
  return Object.fromEntries(KEYS.map((key): [string, readonly string[]] => [key, CONFIG_SCHEMA[key].env])) as Record<keyof Config, readonly string[]>;
}
