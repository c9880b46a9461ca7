/**
 * A topic's JSON Schema checked as the hub checks it (Ajv with the same options, formats and custom error messages;
 * src/ingest/topic-catalog.ts), for the topic editor to show each problem where it is while typing. Ajv is large
 * next to the rest of the console, so the editor loads this module on first use: it is a chunk of its own, outside
 * the initial bundle.
 */
import { Ajv, type ErrorObject } from "ajv";
import ajvErrorsModule from "ajv-errors";
import ajvFormatsModule from "ajv-formats";

// Each ships CommonJS with the plugin as `default`; bundlers differ in whether they unwrap it.
const ajvErrors = ((ajvErrorsModule as unknown as { default?: unknown }).default ?? ajvErrorsModule) as (ajv: Ajv) => Ajv;
const ajvFormats = ((ajvFormatsModule as unknown as { default?: unknown }).default ?? ajvFormatsModule) as (ajv: Ajv) => Ajv;

/** A problem of a schema: where in it (a JSON Pointer, `""` for the whole), and what. */
export interface SchemaProblem {
  path: string;
  message: string;
}

let ajv: Ajv | undefined;

/**
 * The problems of `schema` as a JSON Schema: first its form against the meta-schema, one problem per place; when the
 * form is right, whether it compiles (a `$ref` that resolves, a valid pattern). Empty when the hub would take it.
 */
export function checkSchema(schema: unknown): SchemaProblem[] {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return [{ path: "", message: "must be a JSON Schema object" }];
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: false, messages: true });
    ajvFormats(ajv);
    ajvErrors(ajv);
  }
  if (!ajv.validateSchema(schema)) return problemsOf(ajv.errors ?? []);
  try {
    ajv.compile(schema);
    return [];
  } catch (error) {
    return [{ path: "", message: (error as Error).message }];
  } finally {
    // Compiled schemas are cached by object and by $id: each keystroke's would pile up, and a second $id would clash.
    ajv.removeSchema(schema);
  }
}

/**
 * Ajv's errors, one per place: with `allErrors`, a wrong `type` also fails the meta-schema's `anyOf` and its array
 * branch; the first error at a place says the most, with the allowed values when there are some.
 */
function problemsOf(errors: ErrorObject[]): SchemaProblem[] {
  const byPath = new Map<string, string>();
  for (const e of errors) {
    if (byPath.has(e.instancePath)) continue;
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    const message = e.message ?? e.keyword;
    byPath.set(e.instancePath, allowed ? `${message}: ${allowed.map((v) => JSON.stringify(v)).join(", ")}` : message);
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}
