import { Ajv2020 } from "ajv/dist/2020.js";

/** An OpenAPI document as JSON. */
export type OpenApiDocument = Record<string, any>;

/**
 * Checks values against the schemas of an OpenAPI 3.1 document (JSON Schema 2020-12), `$ref`s into its components
 * resolved. `check(schema, value)` answers the errors as text, or undefined when the value matches.
 */
export function schemaChecker(doc: OpenApiDocument): (schema: unknown, value: unknown) => string | undefined {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  ajv.addSchema({ $id: "openapi.json", components: doc.components }, "openapi.json");
  return (schema, value) => {
    // A schema of the document: its refs are relative to the document.
    const validate = ajv.compile({ $id: `check-${Math.random()}`, ...rebase(schema) });
    if (validate(value)) return undefined;
    return ajv.errorsText(validate.errors);
  };
}

/** `#/components/…` → `openapi.json#/components/…`, so a schema taken out of the document still resolves. */
function rebase(schema: unknown): any {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (typeof schema !== "object" || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `openapi.json${v}` : rebase(v)]),
  );
}

/** `/api/topics/crud.orders` → the document's path `/api/topics/{name}` that matches it, if any. */
export function matchPath(doc: OpenApiDocument, method: string, path: string): { template: string; operation: any } | undefined {
  const wanted = path.split("?")[0]!.split("/");
  for (const [template, item] of Object.entries<any>(doc.paths)) {
    const parts = template.split("/");
    if (parts.length !== wanted.length || item[method.toLowerCase()] === undefined) continue;
    if (parts.every((p, i) => p === wanted[i] || /^\{.+\}$/.test(p))) return { template, operation: item[method.toLowerCase()] };
  }
  return undefined;
}

/**
 * The property names a schema of the document lists, through `$ref`, `allOf`, `anyOf`/`oneOf` (the object branch) and
 * array `items`: `path` walks into properties (`["data", "items"]`). For checking that replies carry no field the
 * document does not name (its schemas stay open, so validation alone would not tell).
 */
export function documentedKeys(doc: OpenApiDocument, schema: any, path: string[] = []): Set<string> {
  const resolve = (s: any): any =>
    typeof s?.$ref === "string"
      ? resolve(
          s.$ref
            .slice(2)
            .split("/")
            .reduce((o: any, k: string) => o[k], doc),
        )
      : s;
  const branches = (s: any): any[] => {
    const r = resolve(s);
    if (r === undefined) return [];
    return [r, ...["allOf", "anyOf", "oneOf"].flatMap((k) => (r[k] ?? []).flatMap(branches))];
  };
  let current = branches(schema);
  for (const step of path) current = current.flatMap((s) => branches(step === "items" ? s.items : s.properties?.[step]));
  return new Set(current.flatMap((s) => Object.keys(s.properties ?? {})));
}
