import type { ApiKeyInput } from "../../auth/api-keys.js";
import type { ApiKey } from "../../store/store.js";
import { formatTime } from "../../time.js";
import type { ApiKeyCreateBody } from "../schemas/keys.js";

/** `POST /keys` body → {@link ApiKeyInput}. */
export function apiKeyInputFromWire(body: ApiKeyCreateBody): ApiKeyInput {
  return { name: body.name, scopes: body.scopes as string[] };
}

/** An API key on the wire: never its hash; the token only in the reply that creates it. */
export function apiKeyOut(k: ApiKey, token?: string) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    ...(token === undefined ? {} : { token }),
    created_at: formatTime(k.createdAt),
    revoked_at: k.revokedAt === null ? null : formatTime(k.revokedAt),
  };
}
