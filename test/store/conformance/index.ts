/**
 * The store conformance suite: one set of tests every {@link Store} driver must pass, in one file per part of the
 * store. A driver's test file calls {@link describeStoreConformance} with a function that opens a store on a new,
 * empty database; see `sqlite.test.ts` and `postgres.test.ts`.
 */
import { afterEach, beforeEach, describe } from "vitest";
import type { Store } from "../../../src/store/store.js";
import { aggregateConformance } from "./aggregate.js";
import { continuousAggregatesConformance } from "./continuous-aggregates.js";
import { deliveriesConformance } from "./deliveries.js";
import { eventsConformance } from "./events.js";
import type { StoreConformanceOptions, SuiteState } from "./helpers.js";
import { keysConformance } from "./keys.js";
import { leasesConformance } from "./leases.js";
import { lifecycleConformance } from "./lifecycle.js";
import { rollupsConformance } from "./rollups.js";
import { subscriptionsConformance } from "./subscriptions.js";
import { topicsConformance } from "./topics.js";

export { makeEvent, makeSubscription, type StoreConformanceOptions } from "./helpers.js";

/**
 * Registers the conformance suite for one store driver.
 * @param open opens a store on a new, empty database, not yet migrated. Called once per test; the suite migrates
 *   and closes what it opens.
 */
export function describeStoreConformance(name: string, open: () => Promise<Store>, options: StoreConformanceOptions): void {
  describe(`Store conformance: ${name}`, () => {
    const state = { options } as SuiteState;

    beforeEach(async () => {
      state.store = await open();
      state.firstMigration = await state.store.migrate();
    });

    afterEach(async () => {
      await state.store.close();
    });

    lifecycleConformance(state);
    eventsConformance(state);
    topicsConformance(state);
    subscriptionsConformance(state);
    deliveriesConformance(state);
    keysConformance(state);
    leasesConformance(state);
    rollupsConformance(state);
    aggregateConformance(state);
    continuousAggregatesConformance(state);
  });
}
