/** Store conformance: subscriptions. */
import { beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/store/store.js";
import { append, makeEvent, makeSubscription, minutes, type SuiteState } from "./helpers.js";

/** Registers the subscriptions tests; `state` holds the store of the running test. */
export function subscriptionsConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
  });

  describe("subscriptions", () => {
    it("keeps a filter's syntax and its source; a filter written in CEL reads without them", async () => {
      const source = 'data["body"]["x"] == 1 and True';
      const s = makeSubscription("sub_sw", { filter: '((data["x"] == 1.0) ? true : false)', filterSyntax: "switch", filterSource: source });
      await store.subscriptions.create(s);
      expect(await store.subscriptions.get("sub_sw")).toEqual(s);
      const cel = makeSubscription("sub_cel", { filter: "data.x == 1", url: "http://c.example/hook" });
      await store.subscriptions.create(cel);
      const read = await store.subscriptions.get("sub_cel");
      expect(read).toEqual(cel);
      expect(read).not.toHaveProperty("filterSyntax");
      expect(read).not.toHaveProperty("filterSource");
      // Back to CEL: the source goes, and the subscription reads as any CEL one.
      const patched = await store.subscriptions.update("sub_sw", { filter: "true", filterSyntax: "cel", filterSource: null }, minutes(7));
      expect(patched).not.toHaveProperty("filterSource");
      expect(patched?.filter).toBe("true");
      const again = await store.subscriptions.update("sub_cel", { filter: "true", filterSyntax: "switch", filterSource: "True" }, minutes(8));
      expect([again?.filterSyntax, again?.filterSource]).toEqual(["switch", "True"]);
      expect((await store.subscriptions.list()).find((x) => x.id === "sub_cel")?.filterSource).toBe("True");
    });

    it("creates, reads, finds, lists, patches and deletes", async () => {
      const a = makeSubscription("sub_a", { topic: "orders.*", filter: "data.x == 1", headers: { "x-k": "v" }, rateLimit: 2.5 });
      const b = makeSubscription("sub_b", { url: "http://b.example/hook" });
      await store.subscriptions.create(a);
      await store.subscriptions.create(b);
      expect(await store.subscriptions.get("sub_a")).toEqual(a);
      expect(await store.subscriptions.get("nope")).toBeUndefined();
      expect((await store.subscriptions.list()).map((s) => s.id)).toEqual(["sub_a", "sub_b"]);
      expect((await store.subscriptions.find("orders.*", a.url))?.id).toBe("sub_a");
      expect(await store.subscriptions.find("orders.*", "http://other")).toBeUndefined();

      const patched = await store.subscriptions.update(
        "sub_a",
        { active: false, disabledReason: "410", retrySchedule: [1, 2.5], filter: null, failingSince: minutes(3) },
        minutes(5),
      );
      expect(patched).toEqual({
        ...a,
        active: false,
        disabledReason: "410",
        retrySchedule: [1, 2.5],
        filter: null,
        failingSince: minutes(3),
        updatedAt: minutes(5),
      });
      expect(await store.subscriptions.update("nope", { active: true }, minutes(5))).toBeUndefined();

      expect(await store.subscriptions.delete("sub_a")).toBe(true);
      expect(await store.subscriptions.delete("sub_a")).toBe(false);
      expect((await store.subscriptions.list()).map((s) => s.id)).toEqual(["sub_b"]);
    });

    it("keeps a priority, and one subscription per handler (function:) url", async () => {
      await store.subscriptions.create(makeSubscription("sub_f1", { url: "function:send-receipt", priority: 50 }));
      expect((await store.subscriptions.get("sub_f1"))?.priority).toBe(50);
      expect((await store.subscriptions.update("sub_f1", { priority: -3 }, minutes(1)))?.priority).toBe(-3);
      await expect(store.subscriptions.create(makeSubscription("sub_f2", { topic: "other", url: "function:send-receipt" }))).rejects.toMatchObject({
        code: "SB_SUBSCRIPTION_EXISTS",
      });
      // Webhook urls may repeat (two subscriptions of one endpoint with different topics or filters).
      await store.subscriptions.create(makeSubscription("sub_w1"));
      await store.subscriptions.create(makeSubscription("sub_w2"));
      expect((await store.subscriptions.list()).map((s) => s.id)).toEqual(["sub_f1", "sub_w1", "sub_w2"]);
    });

    it("keeps a rotated-out secret and until when it signs, and clears them", async () => {
      await store.subscriptions.create(makeSubscription("sub_r"));
      expect((await store.subscriptions.get("sub_r"))?.previousSecret ?? null).toBeNull();
      const rotated = await store.subscriptions.update(
        "sub_r",
        { secret: "whsec_new", previousSecret: "whsec_old", previousSecretUntil: minutes(60) },
        minutes(1),
      );
      expect(rotated).toMatchObject({ secret: "whsec_new", previousSecret: "whsec_old", previousSecretUntil: minutes(60) });
      expect(await store.subscriptions.get("sub_r")).toMatchObject({ previousSecret: "whsec_old", previousSecretUntil: minutes(60) });
      await store.subscriptions.update("sub_r", { previousSecret: null, previousSecretUntil: null }, minutes(2));
      const cleared = await store.subscriptions.get("sub_r");
      expect(cleared?.secret).toBe("whsec_new");
      expect(cleared?.previousSecret ?? null).toBeNull();
      expect(cleared?.previousSecretUntil ?? null).toBeNull();
    });

    it("finds the seq before a receive time", async () => {
      expect(await store.events.seqBefore(minutes(1))).toBe(0);
      const first = await append(store, [makeEvent("t", { receivedAt: minutes(1) }), makeEvent("t", { receivedAt: minutes(2) })]);
      const second = await append(store, [makeEvent("t", { receivedAt: minutes(3) })]);
      expect(await store.events.seqBefore(minutes(0))).toBe(0);
      expect(await store.events.seqBefore(minutes(2))).toBe(first.results[0]!.seq);
      expect(await store.events.seqBefore(minutes(2) + 1)).toBe(first.results[1]!.seq);
      expect(await store.events.seqBefore(minutes(9))).toBe(second.results[0]!.seq);
    });
  });
}
