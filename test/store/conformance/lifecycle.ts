/** Store conformance: migrate, stats, ping and close. */
import { beforeEach, describe, expect, it } from "vitest";
import { loadMigrations } from "../../../src/store/migrate.js";
import type { Store } from "../../../src/store/store.js";
import { T0, append, clientEvent, makeEvent, type SuiteState } from "./helpers.js";

/** Registers the migrate, stats, ping and close tests; `state` holds the store of the running test. */
export function lifecycleConformance(state: SuiteState): void {
  let store: Store;
  let firstMigration: SuiteState["firstMigration"];
  const options = state.options;
  beforeEach(() => {
    store = state.store;
    firstMigration = state.firstMigration;
  });

  describe("migrate", () => {
    it("applies every migration to a new database", () => {
      const all = loadMigrations(store.dialect);
      expect(firstMigration.version).toBe(all.at(-1)!.version);
      expect(firstMigration.applied).toEqual(all.map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`));
      firstMigration.applied.forEach((m) => expect(m).toMatch(/^\d{4}_[a-z0-9_]+$/));
      expect(["sqlite", "postgres"]).toContain(store.dialect);
    });

    it("is idempotent and keeps the data", async () => {
      const first = await append(store, [makeEvent("orders")]);
      expect(await store.migrate()).toEqual({ applied: [], version: firstMigration.version });
      expect(await store.migrate()).toEqual({ applied: [], version: firstMigration.version });
      expect((await store.events.get(first.results[0]!.id))?.seq).toBe(first.results[0]!.seq);
      const next = await append(store, [makeEvent("orders")]);
      expect(next.results[0]!.seq).toBeGreaterThan(first.results[0]!.seq);
    });

    it.skipIf(!options.recordMigration)("refuses a database newer than the code (needs options.recordMigration)", async () => {
      const newer = firstMigration.version + 1;
      await options.recordMigration!(store, newer);
      await expect(store.migrate()).rejects.toThrow(new RegExp(`\\b${newer}\\b.*newer|newer.*\\b${newer}\\b`));
    });
  });

  describe("stats, ping and close", () => {
    it("counts events and topics", async () => {
      expect(await store.stats()).toEqual({ events: 0, topics: 0 });
      await store.topics.create({ name: "empty" }, T0);
      await append(store, [makeEvent("a"), makeEvent("a"), makeEvent("b")]);
      await append(store, [clientEvent("dup", "b")]);
      await append(store, [clientEvent("dup", "b")]);
      expect(await store.stats()).toEqual({ events: 4, topics: 3 });
    });

    it("pings while open and refuses once closed; closing twice is harmless", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      await store.close();
      await expect(store.ping()).rejects.toThrow();
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
