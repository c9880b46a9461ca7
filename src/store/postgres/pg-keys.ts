import { HubError } from "../../errors.js";
import type { ApiKeyRow } from "../rows.js";
import type { ApiKey, KeysPart } from "../store.js";
import { isUniqueViolation, PG_ROWS, translateError, type PgContext } from "./pg-util.js";
import { API_KEY_BY_HASH, API_KEY_COUNT_ACTIVE, API_KEY_INSERT, API_KEY_LIST, API_KEY_REVOKE } from "./sql/keys.js";

/** PostgreSQL API keys. */
export class PgKeys implements KeysPart {
  constructor(private readonly ctx: PgContext) {}

  async create(key: ApiKey): Promise<void> {
    try {
      await this.ctx.pool.query(
        API_KEY_INSERT,
        [key.id, key.name, key.hash, key.prefix, JSON.stringify(key.scopes), key.createdAt, key.revokedAt],
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new HubError("SB_API_KEY_EXISTS", `an API key with id ${JSON.stringify(key.id)} or the same token already exists`);
      }
      throw translateError(error);
    }
  }

  async findByHash(hash: string): Promise<ApiKey | undefined> {
    const { rows } = await this.ctx.query<ApiKeyRow>(API_KEY_BY_HASH, [hash]);
    return rows[0] && PG_ROWS.toApiKey(rows[0]);
  }

  async list(): Promise<ApiKey[]> {
    return (await this.ctx.query<ApiKeyRow>(API_KEY_LIST)).rows.map(PG_ROWS.toApiKey);
  }

  async revoke(id: string, now: number): Promise<ApiKey | undefined> {
    const { rows } = await this.ctx.query<ApiKeyRow>(API_KEY_REVOKE, [now, id]);
    return rows[0] && PG_ROWS.toApiKey(rows[0]);
  }

  async countActive(): Promise<number> {
    return (await this.ctx.query<{ n: number }>(API_KEY_COUNT_ACTIVE)).rows[0]!.n;
  }
}
