import { describe, expect, it } from "vitest";
import { validateDestinationUrl, maskDestinationUrl } from "../../src/delivery/destinations/registry.js";
import { HubError } from "../../src/errors.js";
import { request } from "./hub.js";

/** Loopback brokers are allowed in the url tables; the guard's own cases pass `{ allowPrivate: false }`. */
export const allowPrivate = { allowPrivate: true };

/** The HubError `validateDestinationUrl` refuses `url` with (fails the test if it accepts it). */
export async function refusal(url: string, options = allowPrivate): Promise<HubError> {
  const error = await validateDestinationUrl(url, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(HubError);
  return error as HubError;
}

/** The url table of one destination kind: what is stored for each accepted url, each refusal's message, and masking. */
export interface DestinationUrlTable {
  /** `[url, stored]`: accepted, stored as `stored`. */
  accepts: Array<[string, string]>;
  /** `[url, message]`: refused with 400 `SB_SUBSCRIPTION_INVALID`, its details matching `message`. */
  refuses: Array<[string, RegExp]>;
  /** `[url, masked]`: what every GET shows. */
  masks?: Array<[string, string]>;
}

/** Registers the table's cases under `describe("<kind> urls")`. */
export function describeDestinationUrls(kind: string, table: DestinationUrlTable): void {
  describe(`${kind} urls`, () => {
    it.each(table.accepts)("accepts %s", async (url, stored) => {
      expect(await validateDestinationUrl(url, allowPrivate)).toBe(stored);
    });

    it.each(table.refuses)("refuses %s with SB_SUBSCRIPTION_INVALID", async (url, message) => {
      const error = await refusal(url);
      expect(error.code).toBe("SB_SUBSCRIPTION_INVALID");
      expect(error.details).toMatch(message);
    });

    if (table.masks) {
      it.each(table.masks)("maskDestinationUrl(%s)", (url, masked) => {
        expect(maskDestinationUrl(url)).toBe(masked);
      });
    }
  });
}

/** POSTs a subscription for each `[url, message]` and expects 400 `SB_SUBSCRIPTION_INVALID` with details matching `message`. */
export async function expectRefusedByApi(hubUrl: string, cases: Array<[string, RegExp]>): Promise<void> {
  for (const [url, message] of cases) {
    const reply = await request(`${hubUrl}/api/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic: "x", url }),
    });
    expect(reply.status, url).toBe(400);
    expect(reply.body.code).toBe("SB_SUBSCRIPTION_INVALID");
    expect(reply.body.details).toMatch(message);
  }
}
