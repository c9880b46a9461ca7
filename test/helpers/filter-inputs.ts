/** Events and assertions shared by the filter tests (src/routing/filter*.test.ts). */

import { expect } from "vitest";
import { HubError, type ErrorCode } from "../../src/errors.js";
import { compileFilter, type FilterInput } from "../../src/routing/filter.js";

export const T0 = Date.UTC(2025, 0, 1);

/** An event with every field set; override what a row needs. */
export function event(overrides: Partial<FilterInput> = {}): FilterInput {
  return {
    id: "evt_01JGZX0000AAAAAAAAAAAAAAAA",
    topic: "orders.created",
    type: "order.created",
    source: "shop",
    subject: "order/42",
    key: "customer-7",
    time: T0,
    data: {
      amount: 150,
      price: 1.5,
      count: 0,
      user_id: "123",
      name: "Ada",
      type: "inner",
      flag: true,
      nothing: null,
      tags: ["a", "b"],
      customer: { country: "DE", tier: 2 },
    },
    attributes: { region: "eu", priority: "high" },
    ...overrides,
  };
}

/** The error `compileFilter` throws for `source`; fails the test when it does not throw. */
export function filterError(source: string): HubError {
  try {
    compileFilter(source);
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  return expect.fail(`compileFilter(${JSON.stringify(source.slice(0, 80))}) did not throw`);
}

/**
 * Asserts that `compileFilter(source)` refuses as a 400 with `code`, the HTTP body `{ error: title, details, code }`,
 * and details matching `details`.
 */
export function expectFilterRefused(source: string, code: ErrorCode, title: string, details: RegExp | string): HubError {
  const error = filterError(source);
  expect(error.code).toBe(code);
  expect(error.status).toBe(400);
  expect(error.details).toMatch(details);
  expect(error.toBody()).toEqual({ error: title, details: error.details, code });
  return error;
}
