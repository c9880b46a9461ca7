import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { postJson, request } from "../helpers/hub.js";
import { spawnNode } from "../helpers/process.js";

let dir: string;
let databaseUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchboard-keys-"));
  databaseUrl = `sqlite:${join(dir, "hub.db")}`;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function keys(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnNode("src/cli/index.ts", ["keys", ...args], { DATABASE_URL: databaseUrl });
  const exit = await child.exited;
  return { code: exit.code, stdout: child.stdout, stderr: child.stderr };
}

describe("switchboard keys", () => {
  it("creates, lists and revokes keys in the store, and a hub on that store honours them", async () => {
    const created = await keys(["create", "--scope", "publish:orders.*", "--scope", "subscribe:orders.**", "--name", "ci"]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain("not shown again");
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({ id: expect.stringMatching(/^key_/), name: "ci", scopes: ["publish:orders.*", "subscribe:orders.**"], revoked_at: null });
    expect(key.token).toMatch(/^sbk_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(key.token.slice(0, 8));

    const listed = await keys(["list"]);
    expect(listed.code, listed.stderr).toBe(0);
    const list = JSON.parse(listed.stdout);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ id: key.id, prefix: key.prefix });
    expect(listed.stdout).not.toContain(key.token);

    let server: RunningServer | undefined;
    try {
      server = await startServer(loadConfig({ env: {}, overrides: { port: 0, host: "127.0.0.1", logLevel: "silent", databaseUrl } }), createLogger("silent"));
      const auth = { authorization: `Bearer ${key.token}` };
      expect((await postJson(`${server.url}/api/events`, { topic: "orders.created", data: {} })).status).toBe(401);
      expect((await postJson(`${server.url}/api/events`, { topic: "orders.created", data: {} }, auth)).status).toBe(201);
      expect((await postJson(`${server.url}/api/events`, { topic: "users.created", data: {} }, auth)).status).toBe(403);

      const revoked = await keys(["revoke", key.id]);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(JSON.parse(revoked.stdout)).toMatchObject({ id: key.id, revoked_at: expect.any(String) });
      expect((await request(`${server.url}/api/events?topic=orders.created`, { headers: auth })).status).toBe(401);
      // The lean publish path too, which takes a key it verified before without asking the store.
      expect((await postJson(`${server.url}/api/events`, { topic: "orders.created", data: {} }, auth)).status).toBe(401);
    } finally {
      await server?.shutdown();
    }
  });

  it("exits 1 for an unknown id or an invalid scope", async () => {
    const unknown = await keys(["revoke", "key_nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no API key");
    const invalid = await keys(["create", "--scope", "write:everything"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("admin, publish:<topic pattern> or subscribe:<topic pattern>");
  });
});
