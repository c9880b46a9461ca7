import type { FastifyInstance, FastifySchema, RouteOptions } from "fastify";
import { ERRORS, type ErrorCode } from "../../errors.js";
import { CHECKED_IN_HANDLER, ERROR_CODE, ErrorBodySchema, REQUIRED_FIRST, UNKNOWN_FIELD } from "../schemas/common.js";
import type { RouteDoc } from "./route-doc.js";

type Schema = Record<string, unknown>;

/** A route as fastify registered it: what the document is generated from. */
export interface CollectedRoute {
  method: string;
  /** fastify's form, `:id` parameters. */
  url: string;
  schema?: FastifySchema;
  /** `false`: left out on purpose. */
  doc?: RouteDoc | false;
}

/** Options of {@link buildOpenApiDocument}. */
export interface OpenApiOptions {
  version: string;
  /** Routes that take no credential (`api/auth.ts`). */
  openRoutes: ReadonlySet<string>;
}

/**
 * Collects every route registered on `fastify` from now on into `routes`, HEAD excepted (fastify adds one per GET,
 * answering the same with no body). Call before any route is registered.
 */
export function collectRoutes(fastify: FastifyInstance, routes: CollectedRoute[] = []): CollectedRoute[] {
  fastify.addHook("onRoute", (route: RouteOptions) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method.toUpperCase() === "HEAD") continue;
      routes.push({ method: method.toUpperCase(), url: route.url, schema: route.schema, doc: route.config?.openapi });
    }
  });
  return routes;
}

/** `/topics/:name` → `/topics/{name}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** Keys of our schemas that are messages for the validator, not description. */
const INTERNAL_KEYS = new Set(["errorMessage", CHECKED_IN_HANDLER, UNKNOWN_FIELD, REQUIRED_FIRST]);
const JSON_TYPE = "application/json";
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * The OpenAPI 3.1 document of the collected routes: paths from the routes, request parameters and bodies from their
 * schemas, replies and raised codes from their `config.openapi`, and the error catalog's codes on every route that can
 * answer them. Schemas with a `$id` become `components.schemas`.
 */
export function buildOpenApiDocument(routes: readonly CollectedRoute[], options: OpenApiOptions): Schema {
  const components: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.doc === false) continue;
    if (route.doc === undefined) throw new Error(`${route.method} ${route.url} has no config.openapi (false leaves it out)`);
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = operation(route, route.doc, options, components);
  }
  components.ErrorCode = errorCodeSchema();
  components.ErrorBody = { ...(convert(ErrorBodySchema, components, true) as Schema), properties: errorBodyProperties() };
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard",
      version: options.version,
      description:
        "An open event hub: publish JSON events, search them, stream them over SSE, deliver them to webhooks. Every error " +
        "reply is `{error, details, code}`; the codes are listed in `ErrorCode` and docs/errors.md.",
      license: { name: "MIT", identifier: "MIT" },
    },
    security: [{ bearerAuth: [] }],
    paths: sortKeys(paths),
    components: {
      schemas: sortKeys(components),
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "An API key (`sbk_…`) or a JWT, as `Authorization: Bearer <token>`. Not needed while auth is off (see docs/auth.md).",
        },
        accessToken: { type: "apiKey", in: "query", name: "access_token", description: "Streams only: the token, for an EventSource." },
        tokenCookie: { type: "apiKey", in: "cookie", name: "switchboard_token", description: "Streams only: the token in a cookie." },
      },
    },
  };
}

function operation(route: CollectedRoute, doc: RouteDoc, options: OpenApiOptions, components: Record<string, unknown>): Schema {
  const schema = (route.schema ?? {}) as Record<string, Schema | undefined>;
  const op: Schema = {
    operationId: operationId(route),
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    tags: [doc.tag ?? tagOf(route.url)],
  };
  const parameters = [
    ...parametersOf(schema.params, "path", components),
    ...parametersOf(schema.querystring, "query", components),
    ...Object.entries(doc.headers ?? {}).map(([name, description]) => ({ name, in: "header", description, schema: { type: "string" } })),
  ];
  if (parameters.length > 0) op.parameters = parameters;
  if (schema.body !== undefined) {
    const bodySchema = convert(schema.body, components);
    const content: Record<string, unknown> = {};
    for (const type of [JSON_TYPE, ...(doc.bodyTypes ?? [])]) content[type] = { schema: bodySchema };
    op.requestBody = { required: doc.bodyOptional !== true, content };
  }
  if (options.openRoutes.has(route.url)) op.security = [];
  else if (doc.stream) op.security = [{ bearerAuth: [] }, { accessToken: [] }, { tokenCookie: [] }];
  const success = successReplies(doc, components);
  const errors = errorReplies(errorCodesOf(route, doc, options));
  const clash = Object.keys(success).find((status) => status in errors);
  if (clash !== undefined) throw new Error(`${route.method} ${route.url}: its ${clash} reply is also an error of the catalog`);
  op.responses = { ...success, ...errors };
  return op;
}

/** `post /api/topics/:name/events` → `postApiTopicsNameEvents`. */
function operationId(route: CollectedRoute): string {
  const words = route.url.split(/[^A-Za-z0-9]+/).filter((w) => w !== "");
  return route.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

/** The path's first segment naming a resource: `/api/topics/:name` → `topics`; probes are `operations`. */
function tagOf(url: string): string {
  const segments = url.split("/").filter((s) => s !== "" && !s.startsWith(":"));
  const resource = segments.find((s) => s !== "api") ?? segments[0] ?? "";
  return ["health", "ready", "metrics"].includes(resource) ? "operations" : resource;
}

function parametersOf(schema: Schema | undefined, where: "path" | "query", components: Record<string, unknown>): Schema[] {
  if (schema === undefined) return [];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const out: Schema[] = Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {}).map(([name, property]) => {
    const { description, ...rest } = convert(property, components) as Schema;
    return { name, in: where, required: where === "path" || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
  // Free-form parameters (the search's data fields): an exploded object, the OpenAPI way to say "any other name".
  if (typeof schema.additionalProperties === "object") {
    const { description, ...rest } = convert(schema.additionalProperties, components) as Schema;
    out.push({ name: "fields", in: where, description, style: "form", explode: true, schema: { type: "object", additionalProperties: rest } });
  }
  return out;
}

/**
 * A copy fit for the document: internal annotations dropped, and any schema with a `$id` moved to the components and
 * referred to (`asComponent`: convert the root itself without referring).
 */
function convert(schema: unknown, components: Record<string, unknown>, asComponent = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => convert(s, components));
  if (typeof schema !== "object" || schema === null) return schema;
  const o = schema as Schema;
  const id = typeof o.$id === "string" ? o.$id : undefined;
  if (id !== undefined && !asComponent) {
    if (!(id in components)) {
      components[id] = {}; // placeholder against cycles
      components[id] = convert(o, components, true);
    }
    return { $ref: `#/components/schemas/${id}` };
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(o)) {
    if (INTERNAL_KEYS.has(key) || key === "$id") continue;
    out[key] = ["enum", "const", "default", "examples", "required"].includes(key) ? value : convertChildren(key, value, components);
  }
  return out;
}

/** `properties` maps names to schemas; every other schema-valued keyword is a schema or an array of them. */
function convertChildren(key: string, value: unknown, components: Record<string, unknown>): unknown {
  if (key === "properties" || key === "patternProperties") {
    return Object.fromEntries(Object.entries(value as Schema).map(([name, s]) => [name, convert(s, components)]));
  }
  return convert(value, components);
}

function successReplies(doc: RouteDoc, components: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const reply of doc.replies) {
    const content = reply.schema === undefined ? undefined : { [reply.contentType ?? JSON_TYPE]: { schema: convert(reply.schema, components) } };
    const headers =
      reply.headers && Object.fromEntries(Object.entries(reply.headers).map(([name, d]) => [name, { description: d, schema: { type: "string" } }]));
    out[String(reply.status)] = { description: reply.description, ...(headers ? { headers } : {}), ...(content ? { content } : {}) };
  }
  return out;
}

/** What every route can answer, by what it is: every request, those with credentials, those with a body. */
const ANY_REQUEST: ErrorCode[] = ["SB_REQUEST_INVALID", "SB_REQUEST_TIMEOUT", "SB_REQUEST_HEADERS_TOO_LARGE", "SB_REQUEST_URL_TOO_LONG", "SB_INTERNAL"];
const AUTHENTICATED: ErrorCode[] = ["SB_AUTH_REQUIRED", "SB_AUTH_INVALID", "SB_AUTH_FORBIDDEN", "SB_RATE_LIMITED", "SB_STORE_UNAVAILABLE"];
const WITH_BODY: ErrorCode[] = ["SB_REQUEST_INVALID_JSON", "SB_REQUEST_TOO_DEEP", "SB_REQUEST_TOO_LARGE", "SB_REQUEST_UNSUPPORTED_MEDIA_TYPE"];
/** Where a schema names no code, its failures answer these (`validation.ts`). */
const SCHEMA_DEFAULTS: Record<string, ErrorCode> = { body: "SB_REQUEST_INVALID", querystring: "SB_QUERY_INVALID", params: "SB_REQUEST_INVALID" };

/** Every catalog code the route can answer. */
export function errorCodesOf(route: CollectedRoute, doc: RouteDoc, options: Pick<OpenApiOptions, "openRoutes">): ErrorCode[] {
  const codes = new Set<ErrorCode>(ANY_REQUEST);
  if (!options.openRoutes.has(route.url)) AUTHENTICATED.forEach((c) => codes.add(c));
  // Draining answers everything but the probes the load balancer asks (`build-app.ts`).
  if (!route.url.startsWith("/health") && !route.url.startsWith("/ready")) codes.add("SB_SHUTTING_DOWN");
  if (BODY_METHODS.has(route.method)) WITH_BODY.forEach((c) => codes.add(c));
  const schema = (route.schema ?? {}) as Record<string, Schema | undefined>;
  for (const part of ["body", "querystring", "params"]) {
    const partSchema = schema[part];
    if (partSchema === undefined || partSchema[CHECKED_IN_HANDLER] === "handler") continue;
    codes.add(SCHEMA_DEFAULTS[part]!);
    schemaCodes(partSchema, codes);
  }
  for (const code of doc.errors ?? []) codes.add(code);
  return [...codes];
}

function schemaCodes(schema: unknown, into: Set<ErrorCode>): void {
  if (typeof schema !== "object" || schema === null) return;
  const code = (schema as Schema)[ERROR_CODE];
  if (typeof code === "string") into.add(code as ErrorCode);
  for (const value of Object.values(schema)) schemaCodes(value, into);
}

const RETRY_AFTER = { "Retry-After": { description: "Seconds to wait before trying again.", schema: { type: "integer" } } };
/** Headers the error replies of a status carry. */
const REPLY_HEADERS: Record<number, Schema> = {
  401: { "WWW-Authenticate": { description: '`Bearer realm="switchboard"`, with `error="invalid_token"` for a bad token.', schema: { type: "string" } } },
  429: RETRY_AFTER,
  503: {
    "Retry-After": { ...RETRY_AFTER["Retry-After"], description: "With `SB_STREAM_LIMIT` and `SB_STORE_UNAVAILABLE`: seconds to wait before trying again." },
  },
  507: RETRY_AFTER,
};

/** The error replies, one per status, each naming its codes. */
function errorReplies(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    list.sort();
    out[String(status)] = {
      description: list.map((c) => `\`${c}\` (${ERRORS[c].error})`).join(", "),
      ...(REPLY_HEADERS[status] ? { headers: REPLY_HEADERS[status] } : {}),
      content: {
        [JSON_TYPE]: {
          schema: { allOf: [{ $ref: "#/components/schemas/ErrorBody" }, { type: "object", properties: { code: { enum: list } } }] },
        },
      },
    };
  }
  return out;
}

/** The catalog: each code with its status and text. */
function errorCodeSchema(): Schema {
  return {
    title: "Error code",
    description: "The stable codes of the error catalog (docs/errors.md); each names its HTTP status.",
    type: "string",
    oneOf: Object.entries(ERRORS).map(([code, spec]) => ({ const: code, description: `${spec.status} ${spec.error}`, "x-status": spec.status })),
  };
}

function errorBodyProperties(): Schema {
  const { error, details, code } = ErrorBodySchema.properties;
  return {
    error: { ...error },
    details: { ...details },
    code: { $ref: "#/components/schemas/ErrorCode", description: (code as { description?: string }).description },
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
