import { Type, type Static } from "typebox";
import { bodyErrors } from "./common.js";

/** `POST BASE_PATH/auth/login`. */
export const LoginBody = Type.Object(
  {
    token: Type.String({
      minLength: 1,
      maxLength: 8192,
      description: "An API key (sbk_…) or a JWT; kept in the HttpOnly switchboard_token cookie.",
      errorMessage: "token must be a non-empty string (an API key or a JWT)",
    }),
  },
  {
    $id: "Login",
    title: "Console sign-in",
    additionalProperties: false,
    errorMessage: { type: "expected a JSON object {token}", required: { token: "token is required" } },
    ...bodyErrors("SB_REQUEST_INVALID", "unknown field {name}"),
  },
);
export type LoginBody = Static<typeof LoginBody>;
