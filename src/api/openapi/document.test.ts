import Fastify from "fastify";
import { Type } from "typebox";
import { afterEach, describe, expect, it } from "vitest";
import { buildOpenApiDocument, collectRoutes, openApiPath } from "./document.js";
import { documented } from "./route-doc.js";

const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function app() {
  const fastify = Fastify();
  apps.push(fastify);
  return { fastify, routes: collectRoutes(fastify) };
}

const options = { version: "1.2.3", openRoutes: new Set(["/open"]) };
const item = Type.Object({ id: Type.String() }, { $id: "Item" });

describe("buildOpenApiDocument", () => {
  it("documents routes from their schemas and config.openapi, and leaves out those marked false", async () => {
    const { fastify, routes } = app();
    const doc = documented({ summary: "One item", replies: [{ status: 200, description: "The item.", schema: item }], errors: ["SB_EVENT_NOT_FOUND"] });
    fastify.get("/items/:id", { schema: { params: Type.Object({ id: Type.String() }) }, ...doc }, async () => ({}));
    fastify.get("/open", documented({ summary: "Open", replies: [{ status: 204, description: "Nothing." }] }), async () => "");
    fastify.get("/ui/app.js", { config: { openapi: false } }, async () => "");
    await fastify.ready();

    const out = buildOpenApiDocument(routes, options) as any;
    expect(Object.keys(out.paths)).toEqual(["/items/{id}", "/open"]);
    const op = out.paths["/items/{id}"].get;
    expect(op.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
    expect(op.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Item" });
    expect(out.components.schemas.Item).toEqual({ type: "object", required: ["id"], properties: { id: { type: "string" } } });
    expect(op.responses["404"].content["application/json"].schema.allOf[1].properties.code.enum).toEqual(["SB_EVENT_NOT_FOUND"]);
    expect(op.responses["401"]).toBeDefined();
    expect(out.paths["/open"].get.security).toEqual([]);
    expect(out.paths["/open"].get.responses["401"]).toBeUndefined();
    expect(out.info.version).toBe("1.2.3");
  });

  it("refuses a route that says nothing about itself", async () => {
    const { fastify, routes } = app();
    fastify.post("/quiet", async () => "");
    await fastify.ready();
    expect(() => buildOpenApiDocument(routes, options)).toThrow("POST /quiet has no config.openapi");
  });

  it("refuses a success status that is also a catalog error's", async () => {
    const { fastify, routes } = app();
    fastify.get("/clash", documented({ summary: "Clash", replies: [{ status: 401, description: "Mine." }] }), async () => "");
    await fastify.ready();
    expect(() => buildOpenApiDocument(routes, options)).toThrow("its 401 reply is also an error");
  });

  it("writes path parameters the OpenAPI way", () => {
    expect(openApiPath("/api/topics/:topic/events")).toBe("/api/topics/{topic}/events");
    expect(openApiPath("/api/subscriptions/:id")).toBe("/api/subscriptions/{id}");
  });
});
