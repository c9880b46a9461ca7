import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir, spawnNode } from "../helpers/process.js";

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir();
});
afterAll(() => removeDir(dir));

/** Runs the hub with `env` and returns how it ended. */
async function runHub(env: Record<string, string>, script = "src/main.ts", args: string[] = []) {
  const child = spawnNode(script, args, { PORT: "0", DATABASE_URL: `sqlite:${join(dir, "never.db")}`, ...env });
  const exit = await child.exited;
  return { ...exit, stdout: child.stdout, stderr: child.stderr };
}

// Each case is its own process: run them side by side.
describe.concurrent("invalid configuration", () => {
  it.each([
    ["PORT=abc", { PORT: "abc" }, "PORT"],
    ["PORT out of range", { PORT: "70000" }, "PORT"],
    ["LOG_LEVEL=loud", { LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    ["a heartbeat under its minimum", { SWITCHBOARD_SSE_HEARTBEAT_MS: "5" }, "SWITCHBOARD_SSE_HEARTBEAT_MS"],
    ["a bool that is not one", { SWITCHBOARD_AUTO_CREATE_TOPICS: "maybe" }, "SWITCHBOARD_AUTO_CREATE_TOPICS"],
    ["an unsupported database URL", { DATABASE_URL: "mysql://localhost/db" }, "DATABASE_URL"],
  ])("%s → exit 2 and one stderr line naming the key", async (_, env, key) => {
    const result = await runHub(env);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchboard: invalid configuration: /);
    expect(lines[0]).toContain(key);
    expect(result.stdout).toBe("");
  });

  it("an unknown key in the config file → exit 2 naming it", async () => {
    const file = join(dir, "config.json");
    await writeFile(file, JSON.stringify({ port: 0, colour: "blue" }));
    const result = await runHub({ SWITCHBOARD_CONFIG: file });
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("colour");
  });

  it("`switchboard serve` with a bad LOG_LEVEL → exit 2 too", async () => {
    const result = await runHub({ LOG_LEVEL: "loud" }, "src/cli/index.ts", ["serve"]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("LOG_LEVEL");
  });
});
