/** Store conformance: API keys. */
import { beforeEach, describe, expect, it } from "vitest";
import type { ApiKey, Store } from "../../../src/store/store.js";
import { T0, expectHubError, minutes, type SuiteState } from "./helpers.js";

/** Registers the API keys tests; `state` holds the store of the running test. */
export function keysConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
  });

  describe("API keys", () => {
    const key = (id: string, overrides: Partial<ApiKey> = {}): ApiKey => ({
      id,
      name: null,
      hash: `hash-of-${id}`,
      prefix: "sbk_abcd",
      scopes: ["publish:orders.*"],
      createdAt: T0,
      revokedAt: null,
      ...overrides,
    });

    it("stores a key and finds it by hash, with every field as given", async () => {
      const k = key("key_01", { name: "ci", scopes: ["publish:orders.**", "subscribe:*", "admin"] });
      await store.keys.create(k);
      expect(await store.keys.findByHash("hash-of-key_01")).toEqual(k);
      expect(await store.keys.findByHash("hash-of-nothing")).toBeUndefined();
    });

    it("lists keys oldest first and counts the active ones", async () => {
      expect(await store.keys.list()).toEqual([]);
      expect(await store.keys.countActive()).toBe(0);
      await store.keys.create(key("key_02"));
      await store.keys.create(key("key_01"));
      await store.keys.create(key("key_03", { revokedAt: minutes(1) }));
      expect((await store.keys.list()).map((k) => k.id)).toEqual(["key_01", "key_02", "key_03"]);
      expect(await store.keys.countActive()).toBe(2);
    });

    it("refuses a second key with the same hash or id (409)", async () => {
      await store.keys.create(key("key_01"));
      await expectHubError(store.keys.create(key("key_02", { hash: "hash-of-key_01" })), "SB_API_KEY_EXISTS", 409);
      await expectHubError(store.keys.create(key("key_01", { hash: "other" })), "SB_API_KEY_EXISTS", 409);
      expect(await store.keys.list()).toHaveLength(1);
    });

    it("revokes a key, keeping the first revocation time; an unknown id gives undefined", async () => {
      await store.keys.create(key("key_01"));
      await store.keys.create(key("key_02"));
      expect(await store.keys.revoke("key_01", minutes(5))).toEqual(key("key_01", { revokedAt: minutes(5) }));
      expect((await store.keys.revoke("key_01", minutes(9)))?.revokedAt).toBe(minutes(5));
      expect((await store.keys.findByHash("hash-of-key_01"))?.revokedAt).toBe(minutes(5));
      expect(await store.keys.countActive()).toBe(1);
      expect(await store.keys.revoke("key_nope", minutes(5))).toBeUndefined();
      expect((await store.keys.findByHash("hash-of-key_02"))?.revokedAt).toBeNull();
    });
  });
}
