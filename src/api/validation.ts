import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import ajvErrorsModule from "ajv-errors";
import type { FastifySchemaCompiler } from "fastify";
import { ERRORS, HubError, type ErrorCode } from "../errors.js";
import { CHECKED_IN_HANDLER, ERROR_CODE, REQUIRED_FIRST, UNKNOWN_FIELD } from "./schemas/common.js";

// CommonJS with a default export; under NodeNext the namespace object may wrap it.
const ajvErrors = ((ajvErrorsModule as unknown as { default?: unknown }).default ?? ajvErrorsModule) as (ajv: Ajv) => Ajv;

type Schema = Record<string, unknown>;
/** Keywords whose values are data or messages, not schemas. */
const DATA_KEYWORDS = new Set(["errorMessage", "enum", "const", "default", "examples", "required"]);
type HttpPart = "body" | "querystring" | "params" | "headers";

/** Where a schema says nothing, a bad query string or path is a bad query; anything else a bad request. */
const DEFAULT_CODE: Record<HttpPart, ErrorCode> = {
  body: "SB_REQUEST_INVALID",
  querystring: "SB_QUERY_INVALID",
  params: "SB_REQUEST_INVALID",
  headers: "SB_REQUEST_INVALID",
};

/**
 * The validator compiler of the app: the route schemas of `schemas/` checked by ajv, and a failure turned into one
 * `HubError` of the catalog (the code the schema names in `x-error-code`, the field named in the details) instead of
 * fastify's `FST_ERR_VALIDATION`. Nothing is coerced, defaulted or removed: the handlers see the request as sent.
 * Parts marked `x-checked-in: handler` are documented, not checked here: their messages quote the value, so the wire
 * mappers check them.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  // allErrors: ajv-errors needs it, and the reply names the first problem in field order, not ajv's.
  const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false, verbose: true, messages: true });
  ajvErrors(ajv);
  const compiled = new WeakMap<object, ValidateFunction>();
  const compileOnce = (root: Schema): ValidateFunction => {
    let validate = compiled.get(root);
    if (!validate) {
      validate = ajv.compile(validationSchema(root) as object);
      compiled.set(root, validate);
    }
    return validate;
  };
  return ({ schema, httpPart }) => {
    const root = schema as Schema;
    // Documentation only (the publish body): no validator at all. Undefined, not null: a route whose parts all compile
    // to undefined takes fastify's no-validation path, as if it had no schema.
    if (root[CHECKED_IN_HANDLER] === "handler") return undefined as unknown as ReturnType<FastifySchemaCompiler<unknown>>;
    const part = (httpPart ?? "body") as HttpPart;
    // Compiled on the route's first request, not at start-up: a restarting node takes its leases back sooner.
    let check: ValidateFunction | undefined;
    return (data: unknown) => {
      check ??= compileOnce(root);
      return check(data) ? true : { error: toSchemaError(check.errors ?? [], root, part) };
    };
  };
}

/** A copy without the parts the handler checks and without `$id` (ajv keeps one schema per id; routes share them). */
function validationSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(validationSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  const o = schema as Schema;
  if (o[CHECKED_IN_HANDLER] === "handler") return {};
  const out: Schema = {};
  for (const [k, v] of Object.entries(o)) if (k !== "$id") out[k] = DATA_KEYWORDS.has(k) ? v : validationSchema(v);
  return out;
}

/**
 * One catalog error for a failed validation: the first problem, in the order unknown fields, missing ones (or the other
 * way round, `x-required-first`), then by field.
 */
export function toSchemaError(errors: ErrorObject[], root: Schema, part: HttpPart): HubError {
  const first = [...errors].sort((a, b) => rank(a, root) - rank(b, root))[0];
  const code = first ? errorCodeAt(root, first.instancePath, part) : DEFAULT_CODE[part];
  return new HubError(code, first ? describe(first, root, part) : ERRORS[code].error);
}

function rank(e: ErrorObject, root: Schema): number {
  const requiredFirst = root[REQUIRED_FIRST] === true;
  if (e.keyword === "additionalProperties") return requiredFirst ? 1 : 0;
  if (e.keyword === "required") {
    const required = (root.required as string[] | undefined) ?? [];
    return (requiredFirst ? 0 : 1) + Math.max(0, required.indexOf((e.params as { missingProperty: string }).missingProperty)) / 1000;
  }
  const field = e.instancePath.split("/")[1];
  const order = Object.keys((root.properties as Schema | undefined) ?? {});
  return 2 + (field === undefined ? 0 : (order.indexOf(decodePointer(field)) + 1) / 1000);
}

function describe(e: ErrorObject, root: Schema, part: HttpPart): string {
  const path = e.instancePath.split("/").slice(1).map(decodePointer).join(".");
  if (e.keyword === "errorMessage") return e.message ?? `${path || part} is invalid`;
  if (e.keyword === "additionalProperties") {
    const name = JSON.stringify((e.params as { additionalProperty: string }).additionalProperty.slice(0, 100));
    const known = Object.keys((root.properties as Schema | undefined) ?? {}).join(", ");
    const template = typeof root[UNKNOWN_FIELD] === "string" ? (root[UNKNOWN_FIELD] as string) : "unknown field {name}; known: {known}";
    return template.replace("{name}", name).replace("{known}", known);
  }
  if (e.keyword === "required") return `${path ? `${path}.` : ""}${(e.params as { missingProperty: string }).missingProperty} is required`;
  // A repeated query parameter arrives as an array.
  if (part === "querystring" && e.keyword === "type" && Array.isArray(e.data)) return `${path} may be given once`;
  if (path === "") return part === "body" ? "the body must be a JSON object" : `the ${part} ${e.message ?? "is invalid"}`;
  return `${path} ${e.message ?? "is invalid"}`;
}

/** The `x-error-code` nearest to the failing value, walking down from the root. */
function errorCodeAt(root: Schema, instancePath: string, part: HttpPart): ErrorCode {
  let code = (root[ERROR_CODE] as ErrorCode | undefined) ?? DEFAULT_CODE[part];
  let node: Schema | undefined = root;
  for (const segment of instancePath.split("/").slice(1).map(decodePointer)) {
    node = (node?.properties as Record<string, Schema> | undefined)?.[segment] ?? (node?.items as Schema | undefined);
    if (node?.[ERROR_CODE] !== undefined) code = node[ERROR_CODE] as ErrorCode;
  }
  return code;
}

function decodePointer(segment: string): string {
  return segment.replaceAll("~1", "/").replaceAll("~0", "~");
}
