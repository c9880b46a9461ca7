/** What the parts of the store conformance suite share: fixtures, expectations and the suite's state. */
import { expect } from "vitest";
import { HubError } from "../../../src/errors.js";
import type { AppendOutcome, AppendRequest, NewEvent, Store, StoredEvent, Subscription } from "../../../src/store/store.js";

/** Driver-specific abilities the suite needs for the few checks the Store interface cannot express. */
export interface StoreConformanceOptions {
  /**
   * Records `version` in `switchboard_migrations` of the database `store` uses, bypassing the store, as a newer
   * Switchboard would have. Without it the check that `migrate()` refuses a newer database is skipped.
   */
  recordMigration?: (store: Store, version: number) => Promise<void>;
  /** Opens a store on a new, empty database with the rollups off (`rollups: false`); the suite migrates and closes it. */
  openWithoutRollups: () => Promise<Store>;
}

export const T0 = Date.UTC(2025, 0, 1);
export const minutes = (m: number): number => T0 + m * 60_000;

let serial = 0;

/** A valid event; `id` defaults to a unique generated id (clientId false). */
export function makeEvent(topic: string, overrides: Partial<NewEvent> = {}): NewEvent {
  const data = "data" in overrides ? overrides.data : { serial: ++serial };
  return {
    id: `evt_conformance_${String(++serial).padStart(8, "0")}`,
    clientId: false,
    topic,
    type: null,
    source: null,
    subject: null,
    time: T0,
    key: null,
    data,
    attributes: {},
    receivedAt: T0,
    ...overrides,
    dataJson: overrides.dataJson ?? JSON.stringify(data),
  };
}

/** A client-given id. */
export function clientEvent(id: string, topic: string, overrides: Partial<NewEvent> = {}): NewEvent {
  return makeEvent(topic, { ...overrides, id, clientId: true });
}

export type Ok = Extract<AppendOutcome, { ok: true }>;

export function expectOk(outcome: AppendOutcome | undefined): Ok {
  expect(outcome).toBeDefined();
  if (!outcome!.ok) expect.fail(`expected the request to succeed, it failed with ${outcome!.error.message}`);
  return outcome as Ok;
}

export function expectFailed(outcome: AppendOutcome | undefined): Error {
  expect(outcome).toBeDefined();
  if (outcome!.ok) return expect.fail("expected the request to fail, it succeeded");
  return outcome!.error;
}

/** Appends one request and returns its (successful) outcome. */
export async function append(store: Store, events: NewEvent[], options: Partial<AppendRequest> = {}): Promise<Ok> {
  const outcomes = await store.events.append([{ events, createTopics: true, ...options }]);
  expect(outcomes).toHaveLength(1);
  return expectOk(outcomes[0]);
}

/** An event as read back: everything but `clientId`, which is a fact of the request, not of the stored row. */
export function persisted(e: NewEvent | StoredEvent, seq?: number): Omit<StoredEvent, "clientId"> {
  const { clientId: _clientId, ...rest } = e as StoredEvent;
  return seq === undefined ? rest : { ...rest, seq };
}

export function expectStrictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) {
    if (!(values[i]! > values[i - 1]!)) expect.fail(`seq ${values[i]} at ${i} is not above ${values[i - 1]}: ${values.join(", ")}`);
  }
}

export async function expectHubError(promise: Promise<unknown>, code: string, status: number): Promise<HubError> {
  const error = await promise.then(
    () => expect.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  expect((error as HubError).code).toBe(code);
  expect((error as HubError).status).toBe(status);
  return error as HubError;
}

/** The suite's state, set before each test: a new store, migrated once. */
export interface SuiteState {
  store: Store;
  firstMigration: { applied: string[]; version: number };
  options: StoreConformanceOptions;
}

/** A subscription with every field set; overrides replace fields. */
export function makeSubscription(id: string, overrides: Partial<Subscription> = {}): Subscription {
  return {
    id,
    topic: "orders",
    url: "http://a.example/hook",
    filter: null,
    headers: {},
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    active: true,
    disabledReason: null,
    ordering: "none",
    retrySchedule: [0, 5, 30],
    timeoutMs: 10_000,
    maxInFlight: 16,
    rateLimit: null,
    body: "data",
    cursorSeq: 0,
    failingSince: null,
    priority: 0,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}
