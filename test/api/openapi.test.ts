import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERRORS } from "../../src/errors.js";
import { request, startTestHub, type TestHub } from "../helpers/hub.js";
import { documentedKeys, matchPath, schemaChecker, type OpenApiDocument } from "../helpers/openapi.js";

/**
 * The routes fastify holds, from its own route tree (`printRoutes`), as `METHOD path` with every parameter written
 * `{}`: the tree merges `:topic` and `:name` at one node, so names cannot be compared here (`hasRoute` checks them).
 */
function registeredRoutes(tree: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split("\n")) {
    const match = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!.replace(/:[^/|]+(\|:[^/|]+)*/g, "{}"));
    for (const method of match[3]!.split(", ")) if (method !== "HEAD") out.add(`${method} ${stack.join("")}`);
  }
  return out;
}

function documentedRoutes(doc: OpenApiDocument): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const method of Object.keys(item)) out.add(`${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, "{}")}`);
  }
  return out;
}

describe.each([
  ["/api", "/api"],
  ["an empty BASE_PATH", ""],
])("GET …/openapi.json with %s", (_, basePath) => {
  let hub: TestHub;
  let doc: OpenApiDocument;
  beforeAll(async () => {
    hub = await startTestHub({ basePath });
    const reply = await request(`${hub.url}${basePath}/openapi.json`);
    expect(reply.status).toBe(200);
    doc = reply.body;
  });
  afterAll(() => hub.close());

  it("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    expect(await validator.validate(doc)).toEqual({ valid: true });
    expect(validator.version).toBe("3.1");
  });

  it("has every registered route but those left out on purpose, and only those, with fastify's parameter names", () => {
    const fastify = hub.server.app.fastify;
    const registered = registeredRoutes(fastify.printRoutes({ commonPrefix: false }));
    expect(registered.size).toBeGreaterThan(25);
    // Left out on purpose (`config.openapi: false`): none in this hub.
    const hidden = hub.server.app.routes.filter((r) => r.doc === false).map((r) => `${r.method} ${r.url.replace(/:[^/]+/g, "{}")}`);
    expect([...documentedRoutes(doc), ...hidden].sort()).toEqual([...registered].sort());
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const method of Object.keys(item))
        expect(fastify.hasRoute({ method: method.toUpperCase() as "GET", url: path.replace(/\{([^}]+)\}/g, ":$1") })).toBe(true);
    }
  });

  it("names each path parameter, and documents a 404 wherever there is one", () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries<any>(item)) {
        const inPath = (op.parameters ?? []).filter((p: any) => p.in === "path").map((p: any) => p.name);
        expect(inPath, `${method} ${path}`).toEqual(names);
        if (names.length > 0 && !path.endsWith("/stream") && !path.endsWith("/topics/{topic}/events")) {
          expect(op.responses["404"], `${method} ${path}`).toBeDefined();
        }
      }
    }
  });

  it("lists the whole error catalog, each code with its status, and every code a route can answer on that route", () => {
    const catalog = doc.components.schemas.ErrorCode.oneOf.map((c: any) => [c.const, c["x-status"]]);
    expect(catalog).toEqual(Object.entries(ERRORS).map(([code, spec]) => [code, spec.status]));
    const onRoutes = new Set<string>();
    for (const item of Object.values<any>(doc.paths)) {
      for (const op of Object.values<any>(item)) {
        for (const [status, reply] of Object.entries<any>(op.responses)) {
          const schema = reply.content?.["application/json"]?.schema;
          if (Number(status) < 400 || schema?.allOf === undefined) continue; // /ready's 503 is its own body
          const codes: string[] = reply.content["application/json"].schema.allOf[1].properties.code.enum;
          for (const code of codes) {
            expect(ERRORS[code as keyof typeof ERRORS].status).toBe(Number(status));
            onRoutes.add(code);
          }
          expect(reply.description).toContain(codes[0]);
        }
      }
    }
    // Raised before any route is chosen: no route for the path, a method the path lacks, a CORS preflight.
    // And the library's own, which no HTTP route raises: hub.handle's options, hub.outbox's client, the relay's race.
    const outsideRoutes = [
      "SB_ROUTE_NOT_FOUND",
      "SB_METHOD_NOT_ALLOWED",
      "SB_CORS_FORBIDDEN",
      "SB_HANDLER_INVALID",
      "SB_HANDLER_EXISTS",
      "SB_OUTBOX_CLIENT_INVALID",
      "SB_OUTBOX_RELAYED",
    ];
    expect(Object.keys(ERRORS).filter((c) => !onRoutes.has(c))).toEqual(outsideRoutes);
  });

  it("gives every operation a unique id, a summary, and bearer auth unless it is open", () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const op of Object.values<any>(item)) {
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        expect(op.summary).toBeTruthy();
        const open =
          ["/health", `${basePath}/health`, "/ready", "/metrics", `${basePath}/openapi.json`].includes(path) ||
          path.startsWith("/docs") ||
          path.startsWith(`${basePath}/auth/`);
        if (open) expect(op.security).toEqual([]);
        else expect(op.security === undefined || op.security.some((s: any) => "bearerAuth" in s)).toBe(true);
      }
    }
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });
});

describe("the document against real replies", () => {
  let hub: TestHub;
  let doc: OpenApiDocument;
  let check: ReturnType<typeof schemaChecker>;
  beforeAll(async () => {
    hub = await startTestHub({ allowPrivateTargets: true });
    doc = (await request(`${hub.url}/api/openapi.json`)).body;
    check = schemaChecker(doc);
  });
  afterAll(() => hub.close());

  /** Sends the request and checks the reply against the document's schema for its status. */
  async function exchangeAny(method: string, path: string, body?: unknown) {
    const reply = await request(`${hub.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const found = matchPath(doc, method, path);
    expect(found, `${method} ${path}`).toBeDefined();
    const documented = found!.operation.responses[String(reply.status)];
    expect(documented, `${method} ${path} answered ${reply.status}: ${reply.text}`).toBeDefined();
    const schema = documented.content?.["application/json"]?.schema;
    if (schema !== undefined) expect(check(schema, reply.body), `${method} ${path} → ${reply.status} ${reply.text}`).toBeUndefined();
    else expect(reply.text).toBe("");
    if (reply.status < 300 && schema !== undefined) expectNoUndocumentedField(schema, reply.body, `${method} ${path}`);
    return reply;
  }

  /** Every field of the reply, and of the objects in it that the schema describes field by field, is named by the schema. */
  function expectNoUndocumentedField(schema: unknown, body: unknown, where: string) {
    const described = (path: string[]) => documentedKeys(doc, schema, path).size > 0 || documentedKeys(doc, schema, [...path, "items"]).size > 0;
    const check = (value: unknown, path: string[]): void => {
      if (Array.isArray(value)) return value.forEach((v) => check(v, [...path, "items"]));
      if (typeof value !== "object" || value === null) return;
      const named = documentedKeys(doc, schema, path);
      for (const [key, nested] of Object.entries(value)) {
        expect(named.has(key), `${where}: ${[...path, key].join(".")} is not in the document`).toBe(true);
        if (typeof nested === "object" && nested !== null && described([...path, key])) check(nested, [...path, key]);
      }
    };
    check(body, []);
  }

  it("success replies match their schemas", async () => {
    const exchange = async (method: string, path: string, body?: unknown) => {
      const reply = await exchangeAny(method, path, body);
      expect(reply.status, `${method} ${path}: ${reply.text}`).toBeLessThan(300);
      return reply;
    };
    await exchange("POST", "/api/topics", { name: "oa.orders", description: "orders", schema: { type: "object" } });
    await exchange("GET", "/api/topics");
    await exchange("PATCH", "/api/topics/oa.orders", { retention_ms: 1000 });
    const one = await exchange("POST", "/api/events", { topic: "oa.orders", key: "k", data: { total: 5 } });
    await exchange("POST", "/api/events", [{ topic: "oa.orders", data: { total: 6 } }]);
    await exchange("POST", "/api/topics/oa.orders/events", { total: 7 });
    await exchange("POST", "/api/messages", { topic: "oa.orders", payload: { total: 8 }, attributes: { a: "b" } });
    await exchange("GET", "/api/events?topic=oa.orders&limit=2");
    await exchange("GET", `/api/events/${one.body.id}`);
    const sub = await exchange("POST", "/api/subscriptions", { topic: "oa.*", url: "http://127.0.0.1:9/hook", headers: { "x-a": "b" } });
    await exchange("GET", "/api/subscriptions");
    await exchange("GET", `/api/subscriptions/${sub.body.id}`);
    await exchange("PUT", `/api/subscriptions/${sub.body.id}`, { max_in_flight: 2 });
    await exchange("PUT", "/api/topics/oa.orders", { description: "all orders" });
    await exchange("GET", "/api/topics/oa.orders");
    await exchange("GET", `/api/subscriptions/${sub.body.id}/secret`);
    await exchange("GET", `/api/subscriptions/${sub.body.id}/headers`);
    const replay = await exchange("POST", `/api/subscriptions/${sub.body.id}/replay`, { from: "2020-01-01" });
    expect(replay.body, replay.text).toEqual({ replayed: 4 });
    await exchange("POST", `/api/subscriptions/${sub.body.id}/pause`);
    await exchange("POST", `/api/subscriptions/${sub.body.id}/resume`);
    await exchange("POST", `/api/subscriptions/${sub.body.id}/retry`);
    const page = await exchange("GET", "/api/deliveries?limit=5");
    expect(page.body.data.length).toBeGreaterThan(0);
    await exchange("GET", `/api/deliveries/${page.body.data[0].id}`);
    await exchange("POST", "/api/publishers", { active: true, topic: "oa.orders", target: "http://127.0.0.1:9/p", type: "http" });
    await exchange("DELETE", `/api/subscriptions/${sub.body.id}`);
    await exchange("GET", "/health");
    await exchange("GET", "/api/health");
    await exchange("GET", "/ready");
    await exchange("DELETE", "/api/topics/oa.orders");
    // Last: the first key turns auth on.
    const key = await exchange("POST", "/api/keys", { name: "oa", scopes: ["admin"] });
    const list = await request(`${hub.url}/api/keys`, { headers: { authorization: `Bearer ${key.body.token}` } });
    expect(check(matchPath(doc, "GET", "/api/keys")!.operation.responses["200"].content["application/json"].schema, list.body)).toBeUndefined();
  });

  it.each([
    ["POST", "/api/topics", { nam: "x" }],
    ["POST", "/api/topics", "{"],
    ["GET", "/api/topics/oa.missing", undefined],
    ["GET", "/api/events?from=yesterday-ish", undefined],
    ["GET", "/api/events?filter=data.", undefined],
    ["GET", "/api/events/evt_missing", undefined],
    ["POST", "/api/events", { topic: "bad topic!", data: 1 }],
    ["POST", "/api/subscriptions", { topic: "oa.*", url: "ftp://example.com" }],
    ["PATCH", "/api/subscriptions/sub_missing", { active: false }],
    ["GET", "/api/deliveries?status=lost", undefined],
    ["GET", "/api/deliveries/dlv_missing", undefined],
    ["DELETE", "/api/keys/key_missing", undefined],
  ])("%s %s → an error the document lists for the route", async (method, path, body) => {
    const reply = await exchangeAny(method, path, body);
    expect(reply.status).toBeGreaterThanOrEqual(400);
    const documented = matchPath(doc, method, path)!.operation.responses[String(reply.status)];
    expect(documented.content["application/json"].schema.allOf[1].properties.code.enum).toContain(reply.body.code);
  });
});
