/**
 * Live-only topics in library mode, on SQLite and PostgreSQL: `hub.publish` to one answers `seq: null` and calls the
 * `onLiveEvent` handlers only; `hub.handle` refuses a live-only topic; two hubs on one PostgreSQL database hand
 * each other's live events to their listeners.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HubError } from "../../src/errors.js";
import type { NewEvent, StoredEvent } from "../../src/store/store.js";
import { eventually } from "../helpers/hub.js";
import { newPlace, type HubPlace, type StoreKind } from "../helpers/library.js";
import { describeWithPostgres } from "../helpers/postgres.js";

defineLibraryTests("sqlite");
await describeWithPostgres("live-only topics in library mode on PostgreSQL", "runs live-only topics in library mode", () => defineLibraryTests("postgres"));

function defineLibraryTests(kind: StoreKind): void {
  describe(`live-only topics, library (${kind})`, () => {
    let place: HubPlace | undefined;
    afterEach(async () => {
      await place?.dispose();
      place = undefined;
    });

    it("publishes to onLiveEvent listeners only, answers seq null, and refuses a handler of the topic", async () => {
      place = await newPlace(kind);
      const hub = await place.open();
      await hub.topics.create({ name: "ticks", storage: "none" });
      const live: NewEvent[] = [];
      const stored: StoredEvent[] = [];
      hub.onLiveEvent((e) => live.push(e));
      hub.onEvent((e) => stored.push(e));

      const result = await hub.publish([
        { topic: "ticks", data: { n: 1 } },
        { topic: "orders", data: { n: 2 } },
      ]);
      expect(result.results.map((r) => [r.topic, r.seq === null])).toEqual([
        ["ticks", true],
        ["orders", false],
      ]);
      expect(result.results[0]).toMatchObject({ stored: false });
      expect(result.stored).toBe(1);
      expect(live.map((e) => [e.id, e.data])).toEqual([[result.results[0]!.id, { n: 1 }]]);
      await eventually("the stored event's onEvent", () => (stored.length === 1 ? true : undefined));
      expect(stored.map((e) => e.topic)).toEqual(["orders"]);
      expect(await hub.store.events.get(result.results[0]!.id)).toBeUndefined();

      let refused: unknown;
      try {
        hub.handle("ticks", () => {}, { name: "ticker" });
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(HubError);
      expect((refused as HubError).code).toBe("SB_TOPIC_LIVE_ONLY");
      expect(() => hub.handle("ticks.*", () => {}, { name: "pattern" })).not.toThrow();
    });

    if (kind === "postgres") {
      it("hands a live event published by one hub to the other hub's listeners", async () => {
        place = await newPlace(kind);
        const a = await place.open();
        const b = await place.open();
        await a.topics.create({ name: "pulse", storage: "none" });
        const seenOnB: NewEvent[] = [];
        b.onLiveEvent((e) => seenOnB.push(e));
        const { results } = await a.publish({ topic: "pulse", key: "k", data: { beat: 1 }, attributes: { origin: "a" } });
        await eventually("b's live listener", () => (seenOnB.length === 1 ? true : undefined));
        expect(seenOnB[0]).toMatchObject({ id: results[0]!.id, topic: "pulse", key: "k", data: { beat: 1 }, dataJson: '{"beat":1}' });
        expect(seenOnB[0]!.attributes).toMatchObject({ origin: "a" });
      });
    }
  });
}
