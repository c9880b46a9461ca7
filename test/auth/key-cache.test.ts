import Database from "better-sqlite3";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApiKey, hashApiKeyToken, revokeApiKey } from "../../src/auth/api-keys.js";
import { Authenticator } from "../../src/auth/authenticator.js";
import { loadConfig } from "../../src/config.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";

// The authenticator keeps the API keys it verified while the store's change stamp stays put (SQLite's
// `PRAGMA data_version` and its own key writes): a revocation anywhere must still be refused at the next request.
describe("verified API keys kept between requests (SQLite)", () => {
  let dir: string;
  let path: string;
  let store: Store;
  let auth: Authenticator;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-key-cache-"));
    path = join(dir, "hub.db");
    store = openSqliteStore({ path });
    await store.migrate();
    auth = new Authenticator({ config: loadConfig({ env: {} }), store });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("looks a key up once while nothing changes, and answers from memory after", async () => {
    const { key, token } = await createApiKey(store, { scopes: ["publish:orders.*"] });
    const lookups = vi.spyOn(store.keys, "findByHash");
    expect(auth.knownCredential(token)).toBeUndefined();
    const first = await auth.authenticate(token);
    expect(first).toEqual({ id: key.id, scopes: [{ kind: "publish", pattern: "orders.*" }] });
    expect(await auth.authenticate(token)).toEqual(first);
    expect(auth.knownCredential(token)).toEqual(first);
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it("refuses a key from the next turn of the event loop once another connection (another process) has revoked it", async () => {
    const { key, token } = await createApiKey(store, { scopes: ["admin"] });
    await auth.authenticate(token);
    const other = new Database(path);
    try {
      other.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").run(Date.now(), key.id);
    } finally {
      other.close();
    }
    // The store reads SQLite's data_version once a turn: the requests of the next turn see the revocation.
    await new Promise((resolve) => setImmediate(resolve));
    expect(auth.knownCredential(token)).toBeUndefined();
    await expect(auth.authenticate(token)).rejects.toMatchObject({ code: "SB_AUTH_INVALID" });
  });

  it("refuses a key at the next request once this store has revoked it, without invalidate()", async () => {
    const { key, token } = await createApiKey(store, { scopes: ["admin"] });
    await auth.authenticate(token);
    await revokeApiKey(store, key.id);
    expect(auth.knownCredential(token)).toBeUndefined();
    await expect(auth.authenticate(token)).rejects.toMatchObject({ code: "SB_AUTH_INVALID" });
  });

  it("keeps no refusal: a token refused once is accepted at once when its key has been stored since", async () => {
    const token = `sbk_${"x".repeat(43)}`;
    await expect(auth.authenticate(token)).rejects.toMatchObject({ code: "SB_AUTH_INVALID" });
    expect(auth.knownCredential(token)).toBeUndefined();
    // Stored by another process, within the same turn: a refusal is never kept, so nothing stale stands in the way.
    const other = new Database(path);
    try {
      other
        .prepare("INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at, revoked_at) VALUES (?, NULL, ?, ?, ?, ?, NULL)")
        .run("key_later", hashApiKeyToken(token), token.slice(0, 8), JSON.stringify(["admin"]), Date.now());
    } finally {
      other.close();
    }
    expect(await auth.authenticate(token)).toEqual({ id: "key_later", scopes: [{ kind: "admin" }] });
  });

  it("takes nothing but API keys from memory", async () => {
    expect(auth.knownCredential("eyJhbGciOiJIUzI1NiJ9.e30.x")).toBeUndefined();
  });
});

describe("a store that cannot tell whether keys changed", () => {
  it("is asked on every request", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-key-cache-"));
    const store = openSqliteStore({ path: join(dir, "hub.db") });
    try {
      await store.migrate();
      // As PostgreSQL's: no change stamp, since other nodes write keys too.
      Object.defineProperty(store.keys, "changeStamp", { value: undefined });
      const auth = new Authenticator({ config: loadConfig({ env: {} }), store });
      const { token } = await createApiKey(store, { scopes: ["admin"] });
      const lookups = vi.spyOn(store.keys, "findByHash");
      await auth.authenticate(token);
      await auth.authenticate(token);
      expect(auth.knownCredential(token)).toBeUndefined();
      expect(lookups).toHaveBeenCalledTimes(2);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
