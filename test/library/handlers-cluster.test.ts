/**
 * Handlers of one name registered on several hubs sharing one PostgreSQL database: the subscription leases give each
 * handler to one node at a time, so no event runs twice; a node without the handler never takes it; when the holder
 * closes, another node carries on where it stopped.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Hub } from "../../src/hub.js";
import { eventually } from "../helpers/hub.js";
import { deliveriesOf, handlerId, newPlace, type HubPlace } from "../helpers/library.js";
import { describeWithPostgres } from "../helpers/postgres.js";

await describeWithPostgres("handlers on several nodes", "shares handlers between hubs on one PostgreSQL database", () => {
  describe("handlers on several nodes", () => {
    let place: HubPlace;
    afterEach(async () => {
      await place?.dispose();
    });

    it("two hubs registering the same handlers run each event once per handler, and one carries on when the other closes", { timeout: 60_000 }, async () => {
      place = await newPlace("postgres");
      /** `handler:event id` → the nodes that ran it. */
      const runs = new Map<string, string[]>();
      const node = async (label: string): Promise<Hub> => {
        const hub = await place.open();
        for (const name of ["h1", "h2"]) {
          hub.handle(
            "cluster.*",
            async (event) => {
              const key = `${name}:${event.id}`;
              runs.set(key, [...(runs.get(key) ?? []), label]);
              await new Promise((r) => setImmediate(r));
            },
            { name, concurrency: 4 },
          );
        }
        await hub.start();
        return hub;
      };
      const a = await node("a");
      const b = await node("b");
      // A node of the same database that registers no handler (an API node, say) and does not start them.
      const c = await place.open();

      const total = (n: number) => (runs.size === n ? true : undefined);
      for (let i = 0; i < 10; i++) await (i % 2 ? a : b).publish(Array.from({ length: 10 }, (_, k) => ({ topic: "cluster.x", data: { i, k } })));
      await eventually("200 runs", () => total(200), 20_000);
      const ids = { h1: await handlerId(a, "h1"), h2: await handlerId(a, "h2") };
      for (const id of Object.values(ids)) {
        expect([a, b].filter((hub) => hub.dispatcher.holds(id))).toHaveLength(1);
        expect(c.dispatcher.holds(id)).toBe(false);
        const ds = await deliveriesOf(a, id);
        expect(ds).toHaveLength(100);
        await eventually("all recorded delivered", async () => ((await deliveriesOf(a, id)).every((d) => d.status === "delivered") ? true : undefined));
      }
      expect([...runs.values()].filter((nodes) => nodes.length !== 1)).toEqual([]);

      // The holder of h1 closes (releasing its leases): the other node takes h1 over and runs what follows, once.
      const holder = a.dispatcher.holds(ids.h1) ? a : b;
      const other = holder === a ? b : a;
      await holder.close();
      await other.publish(Array.from({ length: 20 }, (_, k) => ({ topic: "cluster.y", data: { k } })));
      await eventually("240 runs", () => total(240), 20_000);
      expect(other.dispatcher.holds(ids.h1)).toBe(true);
      expect([...runs.values()].filter((nodes) => nodes.length !== 1)).toEqual([]);
      expect(await deliveriesOf(other, ids.h1)).toHaveLength(120);
    });
  });
});
