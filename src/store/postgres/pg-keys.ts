import { HubError } from "../../errors.js";
import type { ApiKey, KeysPart } from "../store.js";
import { isUniqueViolation, PG_ROWS, translateError, type PgContext } from "./pg-util.js";
import { API_KEY_BY_HASH, API_KEY_COUNT_ACTIVE, API_KEY_INSERT, API_KEY_LIST, API_KEY_REVOKE } from "./sql/keys.js";

/** PostgreSQL API keys. */
export class PgKeys implements KeysPart {
  constructor(private readonly ctx: PgContext) {}

  async create(key: ApiKey): Promise<void> {
    try {
      await this.ctx.pool.query(API_KEY_INSERT, [key.id, key.name, key.hash, key.prefix, JSON.stringify(key.scopes), key.createdAt, key.revokedAt]);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new HubError("SB_API_KEY_EXISTS", `an API key with id ${JSON.stringify(key.id)} or the same token already exists`);
      }
      throw translateError(error);
    }
  }

  async findByHash(hash: string): Promise<ApiKey | undefined> {
    return this.ctx.one(API_KEY_BY_HASH, [hash], PG_ROWS.toApiKey);
  }

  async list(): Promise<ApiKey[]> {
    return this.ctx.all(API_KEY_LIST, [], PG_ROWS.toApiKey);
  }

  async revoke(id: string, now: number): Promise<ApiKey | undefined> {
    return this.ctx.one(API_KEY_REVOKE, [now, id], PG_ROWS.toApiKey);
  }

  async countActive(): Promise<number> {
    return (await this.ctx.query<{ n: number }>(API_KEY_COUNT_ACTIVE)).rows[0]!.n;
  }
}
