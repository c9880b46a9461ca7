import * as crypto from "node:crypto";
import { HubError } from "../errors.js";
import { newPrefixedId } from "../ids.js";
import type { ApiKey, Store } from "../store/store.js";
import { scopeProblem } from "./scopes.js";

/** The prefix of every API key token. */
export const API_KEY_TOKEN_PREFIX = "sbk_";

/** What a client may give to create a key. */
export interface ApiKeyInput {
  /** A label for people, at most 200 characters. */
  name?: string | null;
  /** 1 to 100 of admin, publish:<topic pattern> or subscribe:<topic pattern>. */
  scopes: string[];
}

/** A new key and its token, which is shown this once and never stored. */
export interface CreatedApiKey {
  key: ApiKey;
  token: string;
}

/**
 * Node's one-shot `crypto.hash` (20.12 on): a third of `createHash`'s CPU, and no Hash object for the collector, which
 * mattered at one hash per authenticated request.
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash;

/** Hex SHA-256 of a token: what the store keeps and looks keys up by. */
export function hashApiKeyToken(token: string): string {
  return oneShotHash ? oneShotHash("sha256", token, "hex") : crypto.createHash("sha256").update(token).digest("hex");
}

/**
 * Validates the input, makes a token (`sbk_` and 32 random bytes, base64url) and stores the key by its hash.
 * @throws HubError SB_API_KEY_INVALID naming the field at fault.
 * @example const { key, token } = await createApiKey(store, { name: "ci", scopes: ["publish:builds.**"] });
 */
export async function createApiKey(store: Store, input: ApiKeyInput, now = Date.now()): Promise<CreatedApiKey> {
  const { name, scopes } = checkApiKeyInput(input);
  const token = API_KEY_TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
  const key: ApiKey = {
    id: newPrefixedId("key", now),
    name,
    hash: hashApiKeyToken(token),
    prefix: token.slice(0, 8),
    scopes,
    createdAt: now,
    revokedAt: null,
  };
  await store.keys.create(key);
  return { key, token };
}

/**
 * Revokes a key; revoking it again keeps the first revocation time.
 * @throws HubError SB_API_KEY_NOT_FOUND
 */
export async function revokeApiKey(store: Store, id: string, now = Date.now()): Promise<ApiKey> {
  const key = await store.keys.revoke(id, now);
  if (!key) throw new HubError("SB_API_KEY_NOT_FOUND", `no API key with id ${JSON.stringify(id.slice(0, 100))}`);
  return key;
}

/** Every key, oldest first (hashes included; wire shapes leave them out). */
export function listApiKeys(store: Store): Promise<ApiKey[]> {
  return store.keys.list();
}

/** The checks the types cannot make: the name's length and each scope. */
function checkApiKeyInput(input: ApiKeyInput): { name: string | null; scopes: string[] } {
  const { name, scopes } = input;
  if (name !== undefined && name !== null && name.length > 200) throw new HubError("SB_API_KEY_INVALID", "name must be a string of at most 200 characters");
  if (!Array.isArray(scopes) || scopes.length === 0) {
    throw new HubError("SB_API_KEY_INVALID", 'scopes must be a non-empty array, such as ["publish:orders.*"] or ["admin"]');
  }
  if (scopes.length > 100) throw new HubError("SB_API_KEY_INVALID", "at most 100 scopes per key");
  for (const s of scopes) {
    const problem = scopeProblem(s);
    if (problem) throw new HubError("SB_API_KEY_INVALID", problem);
  }
  return { name: typeof name === "string" && name !== "" ? name : null, scopes: [...new Set(scopes)] };
}
