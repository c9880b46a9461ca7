import type { FastifyInstance } from "fastify";
import { createApiKey, listApiKeys, revokeApiKey } from "../../auth/api-keys.js";
import type { Hub } from "../../hub.js";
import type { ApiKey } from "../../store/store.js";
import { formatTime } from "../../time.js";
import { adminOnly } from "../auth.js";

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

/** API keys under `BASE_PATH/keys` (admin). Creating or revoking one re-checks whether auth is on. */
export function registerKeyRoutes(fastify: FastifyInstance, hub: Hub): void {
  const base = `${hub.config.basePath}/keys`;
  const admin = { onRequest: adminOnly };

  fastify.post(base, admin, async (request, reply) => {
    const { key, token } = await createApiKey(hub.store, request.body);
    hub.auth.invalidate();
    return reply.status(201).send(apiKeyOut(key, token));
  });
  fastify.get(base, admin, async () => ({ data: (await listApiKeys(hub.store)).map((k) => apiKeyOut(k)) }));
  fastify.delete<{ Params: { id: string } }>(`${base}/:id`, admin, async (request, reply) => {
    await revokeApiKey(hub.store, request.params.id);
    hub.auth.invalidate();
    return reply.status(204).send();
  });
}
