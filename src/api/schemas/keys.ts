import { Type, type Static } from "typebox";
import { bodyErrors, checkedInHandler } from "./common.js";

const SCOPES_MESSAGE = 'scopes must be a non-empty array, such as ["publish:orders.*"] or ["admin"]';

/** `POST BASE_PATH/keys`. */
export const ApiKeyCreateBody = Type.Object(
  {
    name: Type.Optional(
      Type.Unsafe<string | null>({
        type: ["string", "null"],
        maxLength: 200,
        description: "A label for people.",
        errorMessage: "name must be a string of at most 200 characters",
      }),
    ),
    scopes: Type.Array(checkedInHandler(Type.String({ description: "admin, publish:<topic pattern> or subscribe:<topic pattern>" })), {
      minItems: 1,
      maxItems: 100,
      description: "What the key may do.",
      errorMessage: { type: SCOPES_MESSAGE, minItems: SCOPES_MESSAGE, maxItems: "at most 100 scopes per key" },
    }),
  },
  {
    $id: "ApiKeyCreate",
    title: "New API key",
    additionalProperties: false,
    errorMessage: { type: "expected a JSON object {scopes: [...], name?}", required: { scopes: SCOPES_MESSAGE } },
    ...bodyErrors("SB_API_KEY_INVALID", "unknown field {name}"),
  },
);
export type ApiKeyCreateBody = Static<typeof ApiKeyCreateBody>;
