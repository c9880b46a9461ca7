/** The ingest context and assertions shared by the ingest tests (src/ingest/normalize*.test.ts). */

import { expect } from "vitest";
import { HubError, type ErrorCode } from "../../src/errors.js";
import type { IngestContext } from "../../src/ingest/normalize.js";

export const RECEIVED_AT = Date.UTC(2025, 5, 1, 12, 0, 0);
export const JAN_1_2025 = Date.UTC(2025, 0, 1);

/** A context received at {@link RECEIVED_AT} that admits batches of up to three events. */
export function ctx(overrides: Partial<IngestContext> = {}): IngestContext {
  return { receivedAt: RECEIVED_AT, maxBatchEvents: 3, ...overrides };
}

/** Runs `fn`, expects it to throw a HubError with `code` and `details`, and returns the error. */
export function expectHubError(fn: () => unknown, code: ErrorCode, details: RegExp | string): HubError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HubError);
  const error = caught as HubError;
  expect(error.code).toBe(code);
  if (typeof details === "string") expect(error.details).toBe(details);
  else expect(error.details).toMatch(details);
  return error;
}
