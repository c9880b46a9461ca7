import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_SCHEMA, configFlags, type Config, type ConfigKeySpec } from "./config.js";

// docs/configuration.md checked against the config schema, row by row.

/** One row of the table in docs/configuration.md: `| key | environment | default | meaning |`. */
interface DocRow {
  keys: string[];
  env: string[];
  default: string;
  meaning: string;
}

const DOC = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");

function docRows(): DocRow[] {
  const lines = DOC.split("\n");
  const header = lines.indexOf("| key | environment | default | meaning |");
  expect(header, "the table's header row").toBeGreaterThan(-1);
  const rows: DocRow[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    const cells = line
      .slice(1, -1)
      .split(" | ")
      .map((c) => c.trim());
    expect(cells, line).toHaveLength(4);
    const [keys, env, defaultText, meaning] = cells as [string, string, string, string];
    rows.push({
      keys: keys.split(",").map((k) => k.trim()),
      env: [...env.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!),
      // `2592000000 (30 days)` → 2592000000; `—` (or `— (CORS off)`) is the empty string.
      default: defaultText
        .replace(/\s*\(.*\)$/, "")
        .replaceAll("`", "")
        .replace(/^—$/, ""),
      meaning,
    });
  }
  return rows;
}

/** The range a doc row states, in brackets: `(1–100000)`, `(100 to 2147483647)`, `(at least 4096)`, `(0 or more)`. */
function docRange(meaning: string): { min?: number; max?: number } {
  const both = /\((\d+)(?:–| to )(\d+)[;)]/.exec(meaning);
  if (both) return { min: Number(both[1]), max: Number(both[2]) };
  const atLeast = /\((?:at least (\d+)|(\d+) or more)[;)]/.exec(meaning);
  if (atLeast) return { min: Number(atLeast[1] ?? atLeast[2]) };
  return {};
}

describe("docs/configuration.md", () => {
  const rows = docRows();
  const documented = rows.flatMap((row) => row.keys.map((key, i) => ({ key, row, i })));

  it("lists the flags of `switchboard serve`", () => {
    const line = DOC.split("\n").find((l) => l.includes("`switchboard serve` flags ("));
    expect([...(line ?? "").matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1]).sort()).toEqual(
      configFlags()
        .map((f) => /--[a-z-]+/.exec(f.flags)![0])
        .sort(),
    );
  });

  it("documents every key, once, and no other", () => {
    expect(documented.map((d) => d.key).sort()).toEqual(Object.keys(CONFIG_SCHEMA).sort());
  });

  it.each(documented)("states $key as the schema does", ({ key, row, i }) => {
    const spec = CONFIG_SCHEMA[key as keyof Config] as ConfigKeySpec;
    // A row of several keys lists one environment name per key, in order.
    const env = row.keys.length > 1 ? [row.env[i]!] : row.env;
    expect(env[0], "the winning environment name comes first").toBe(spec.env[0]);
    // "Every key also answers to SWITCHBOARD_<KEY>"; other names are in the row.
    const canonical = `SWITCHBOARD_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    expect(spec.env).toContain(canonical);
    expect([...spec.env].sort()).toEqual([...new Set([...env, canonical])].sort());
    expect(row.default, "default").toBe(String(spec.default));
    const range = docRange(row.meaning);
    expect(range, "range").toEqual(
      spec.kind === "int" ? { ...(spec.min !== undefined && { min: spec.min }), ...(spec.max !== undefined && { max: spec.max }) } : {},
    );
    if (spec.kind === "enum") for (const value of spec.values) expect(row.meaning, "allowed values").toMatch(new RegExp(`\\b${value}\\b`));
  });
});
