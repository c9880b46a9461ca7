import { Type, type TSchema } from "typebox";
import type { ErrorCode } from "../../errors.js";

/**
 * Annotations the hub's validator compiler reads (`validation.ts`). They are `x-` keys, which JSON Schema ignores and
 * OpenAPI 3.1 allows, so the schemas can go into the OpenAPI document as they are.
 */
/** The catalog code of a validation failure at or below this schema. */
export const ERROR_CODE = "x-error-code";
/** How an unknown field is reported: `{name}` is the field (quoted), `{known}` the schema's properties. */
export const UNKNOWN_FIELD = "x-unknown-field";
/** `true`: a missing required field is reported before an unknown one (the topics' order). */
export const REQUIRED_FIRST = "x-required-first";
/** `"handler"`: documented here, checked by the wire mapper (its message quotes the value, which ajv cannot). */
export const CHECKED_IN_HANDLER = "x-checked-in";

/** Annotations of a body schema: the error code and the unknown-field message. */
export function bodyErrors(code: ErrorCode, unknownField?: string): Record<string, string> {
  return { [ERROR_CODE]: code, ...(unknownField === undefined ? {} : { [UNKNOWN_FIELD]: unknownField }) };
}

/**
 * A schema that documents a value the handler checks itself: its static type is `unknown`, so the wire mapper must
 * look at it.
 */
export function checkedInHandler(schema: TSchema): TSchema {
  return Type.Unsafe<unknown>({ ...schema, [CHECKED_IN_HANDLER]: "handler" });
}

/** A time as the API takes it: RFC 3339, `2006-01-02 15:04:05`, a date, or epoch seconds or ms. */
export const TimeInput = Type.Union([Type.String(), Type.Number()], {
  $id: "TimeInput",
  title: "Time",
  description: 'A time: RFC 3339, "2006-01-02 15:04:05", a date, or epoch seconds or milliseconds.',
});

/** `:id` in the path. */
export const IdParams = Type.Object({ id: Type.String({ description: "The resource's id." }) }, { $id: "IdParams", title: "Id parameter" });

/** The body of every error reply. */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.String({ description: "The catalog's short text for the code." }),
    details: Type.String({ description: "What went wrong in this request, naming the field at fault." }),
    code: Type.String({ description: "A stable code, SB_<AREA>_<WHAT>; see docs/errors.md." }),
  },
  { $id: "ErrorBody", title: "Error", description: "The body of every error reply." },
);

/** A query parameter that may be given once. */
export function oneParam(description: string) {
  return Type.String({ description });
}

/** `from`, `to`, `limit` and `cursor`: the time range and paging of every search. */
export function rangeAndPageParams(times: { from: string; to: string }) {
  return {
    from: Type.Optional(oneParam(times.from)),
    to: Type.Optional(oneParam(times.to)),
    limit: Type.Optional(oneParam("Page size, 1 to 1000 (default 100).")),
    cursor: Type.Optional(oneParam("`next_cursor` of the previous page.")),
  };
}

/**
 * A `preValidation` hook for routes whose body is optional: a missing or `null` body is `{}` (no changes, no range).
 */
export function emptyBodyAsObject(request: { body: unknown }, _reply: unknown, done: () => void): void {
  if (request.body === undefined || request.body === null) request.body = {};
  done();
}
