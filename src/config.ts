import { readFileSync } from "node:fs";
import { CONFIG_SCHEMA, type Config, type ConfigKeySpec } from "./config-schema.js";
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
    }
  }

  for (const key of KEYS) {
    const spec: ConfigKeySpec = CONFIG_SCHEMA[key];
    for (const name of spec.env) {
      const raw = env[name];
      if (raw !== undefined && (raw !== "" || (spec.kind === "string" && spec.allowEmpty))) {
        merged[key] = coerce(name, spec, raw);
        break;
      }
    }
  }

  assignValues(merged, options.overrides ?? {}, (key) => `--${kebab(key)}`);
  merged.basePath = normalizeBasePath("BASE_PATH", merged.basePath as string);
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
