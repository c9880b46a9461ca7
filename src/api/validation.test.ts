import { describe, expect, it } from "vitest";
import { HubError } from "../errors.js";
import * as eventSchemas from "./schemas/events.js";
import * as keySchemas from "./schemas/keys.js";
import * as subscriptionSchemas from "./schemas/subscriptions.js";
import * as topicSchemas from "./schemas/topics.js";
import { createValidatorCompiler } from "./validation.js";

type Part = "body" | "querystring" | "params";

/** Validates `data` against `schema` as fastify would; the HubError on failure, or undefined. */
function check(schema: unknown, data: unknown, httpPart: Part = "body"): HubError | undefined {
  const validate = createValidatorCompiler()({ schema, httpPart, method: "POST", url: "/x" }) as ((d: unknown) => true | { error: HubError }) | undefined;
  if (validate === undefined) return undefined; // documentation only
  const result = validate(data);
  return result === true ? undefined : result.error;
}

const { SubscriptionCreateBody, SubscriptionUpdateBody, PublisherCreateBody, DeliverySearchQuery, TimeRangeBody } = subscriptionSchemas;
const sub = { topic: "a.b", url: "http://127.0.0.1/hook" };

describe("createValidatorCompiler", () => {
  it.each([
    [
      SubscriptionCreateBody,
      { ...sub, colour: "red", timeout_ms: 5 },
      "SB_SUBSCRIPTION_INVALID",
      /^unknown field "colour"; known: topic, url, filter, filter_syntax, headers, secret, active, start, ordering, retry, timeout_ms, max_in_flight, rate_limit, body$/,
    ],
    [SubscriptionCreateBody, { timeout_ms: 5 }, "SB_SUBSCRIPTION_INVALID", /^topic is required$/],
    [SubscriptionCreateBody, { ...sub, rate_limit: 0, timeout_ms: 5 }, "SB_SUBSCRIPTION_INVALID", /^timeout_ms must be a whole number from 100 to 60000$/],
    [SubscriptionCreateBody, { ...sub, timeout_ms: "500" }, "SB_SUBSCRIPTION_INVALID", /^timeout_ms must be/],
    [SubscriptionCreateBody, [sub], "SB_SUBSCRIPTION_INVALID", /^the body must be a JSON object$/],
    [SubscriptionUpdateBody, { start: "now" }, "SB_SUBSCRIPTION_INVALID", /^field "start" cannot be changed; changeable: topic, url,/],
    [
      PublisherCreateBody,
      { topic: "a", target: "b", type: "http", x: 1 },
      "SB_SUBSCRIPTION_INVALID",
      /^unknown field "x"; publishers have active, topic, target, type, from_now$/,
    ],
    [PublisherCreateBody, { topic: "a", target: "b", type: "http" }, "SB_SUBSCRIPTION_INVALID", /^active is required$/],
    [topicSchemas.TopicCreateBody, { colour: "red" }, "SB_TOPIC_INVALID", /^name is required$/],
    [topicSchemas.TopicCreateBody, { name: "t", schema: [] }, "SB_TOPIC_SCHEMA_INVALID", /^schema must be a JSON Schema object or null$/],
    [topicSchemas.TopicUpdateBody, { description: "d".repeat(4097) }, "SB_TOPIC_INVALID", /^description is at most 4096 characters$/],
    [keySchemas.ApiKeyCreateBody, { name: "n" }, "SB_API_KEY_INVALID", /^scopes must be a non-empty array/],
    [keySchemas.ApiKeyCreateBody, { scopes: ["admin"], x: 1 }, "SB_API_KEY_INVALID", /^unknown field "x"$/],
  ])("answers a catalog error naming the first problem (%#)", (schema, data, code, details) => {
    const error = check(schema, data);
    expect(error).toBeInstanceOf(HubError);
    expect(error!.code).toBe(code);
    expect(error!.details).toMatch(details);
  });

  it("names a repeated query parameter, reserved or a data field", () => {
    expect(check(DeliverySearchQuery, { limit: ["1", "2"] }, "querystring")).toMatchObject({ code: "SB_QUERY_INVALID", details: "limit may be given once" });
    expect(check(eventSchemas.EventSearchQuery, { x: ["1", "2"] }, "querystring")).toMatchObject({ code: "SB_QUERY_INVALID", details: "x may be given once" });
    expect(check(eventSchemas.EventSearchQuery, { topic: ["a", "b"], x: "1" }, "querystring")).toBeUndefined();
  });

  it("leaves the parts marked x-checked-in: handler to the wire mappers, and changes nothing it lets through", () => {
    const body = { ...sub, headers: "not an object", retry: "soon", start: {} };
    expect(check(SubscriptionCreateBody, body)).toBeUndefined();
    expect(body).toEqual({ ...sub, headers: "not an object", retry: "soon", start: {} });
    expect(check(TimeRangeBody, { from: {}, anything: 1 })).toBeUndefined();
  });

  it("compiles no validator for the publish body and ?topic=: the hot path is not walked twice", () => {
    const compile = createValidatorCompiler();
    expect(compile({ schema: eventSchemas.PublishBody, httpPart: "body", method: "POST", url: "/api/events" })).toBeUndefined();
    expect(compile({ schema: eventSchemas.PublishQuery, httpPart: "querystring", method: "POST", url: "/api/events" })).toBeUndefined();
  });

  it("compiles a schema shared by routes once (no $id clash)", () => {
    const compile = createValidatorCompiler();
    const a = compile({ schema: SubscriptionUpdateBody, httpPart: "body", method: "PATCH", url: "/s/:id" });
    const b = compile({ schema: SubscriptionUpdateBody, httpPart: "body", method: "PUT", url: "/s/:id" });
    expect(typeof a).toBe("function");
    expect(typeof b).toBe("function");
  });
});

describe("route schemas", () => {
  const exported = [eventSchemas, keySchemas, subscriptionSchemas, topicSchemas].flatMap((m) =>
    Object.entries(m).filter(([, v]) => typeof v === "object" && v !== null && ("type" in v || "anyOf" in v)),
  );
  it.each(exported)("%s has an $id and descriptions, for the OpenAPI document", (_name, schema) => {
    const s = schema as { $id?: string; properties?: Record<string, { description?: string }>; anyOf?: unknown };
    expect(s.$id).toMatch(/^[A-Z][A-Za-z]+$/);
    for (const [field, property] of Object.entries(s.properties ?? {})) expect(property.description, field).toBeTruthy();
    // Validators compile on a route's first request: each schema must compile (and accept nothing bogus silently).
    expect(() => check(schema, Symbol("not JSON"))).not.toThrow();
  });
});
