import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { createApiKey, listApiKeys, revokeApiKey } from "../../auth/api-keys.js";
import type { Authenticator } from "../../auth/authenticator.js";
import type { Store } from "../../store/store.js";
import { adminOnly } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { IdParams } from "../schemas/common.js";
import { ApiKeyList, ApiKeyOut } from "../schemas/responses.js";
import { ApiKeyCreateBody } from "../schemas/keys.js";
import { apiKeyInputFromWire, apiKeyOut } from "../wire/keys.js";

/** What {@link registerKeyRoutes} uses. */
export interface KeyRoutesOptions {
  store: Store;
  /** Told when keys change, since auth turns on with the first key. */
  auth: Pick<Authenticator, "invalidate">;
  basePath: string;
}

/** API keys under `BASE_PATH/keys` (admin). Creating or revoking one re-checks whether auth is on. */
export function registerKeyRoutes(instance: FastifyInstance, { store, auth, basePath }: KeyRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const base = `${basePath}/keys`;
  const admin = { onRequest: adminOnly };

  const createDoc = documented({
    summary: "Create an API key",
    replies: [{ status: 201, description: "Created; `token` is shown this once.", schema: ApiKeyOut }],
    errors: ["SB_API_KEY_EXISTS"],
  });
  fastify.post(base, { ...admin, schema: { body: ApiKeyCreateBody }, ...createDoc }, async (request, reply) => {
    const { key, token } = await createApiKey(store, apiKeyInputFromWire(request.body));
    auth.invalidate();
    return reply.status(201).send(apiKeyOut(key, token));
  });
  const listDoc = documented({ summary: "List API keys", replies: [{ status: 200, description: "Every key, revoked ones too.", schema: ApiKeyList }] });
  fastify.get(base, { ...admin, ...listDoc }, async () => ({ data: (await listApiKeys(store)).map((k) => apiKeyOut(k)) }));
  const revokeDoc = documented({ summary: "Revoke an API key", replies: [{ status: 204, description: "Revoked." }], errors: ["SB_API_KEY_NOT_FOUND"] });
  fastify.delete(`${base}/:id`, { ...admin, schema: { params: IdParams }, ...revokeDoc }, async (request, reply) => {
    await revokeApiKey(store, request.params.id);
    auth.invalidate();
    return reply.status(204).send();
  });
}
