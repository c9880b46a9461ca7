import { HubError } from "../../errors.js";
import type { ApiKeyRow } from "../rows.js";
import type { ApiKey, KeysPart } from "../store.js";
import { isUniqueViolation, PG_ROWS, translateError, type PgContext } from "./pg-util.js";

/** PostgreSQL API keys. */
export class PgKeys implements KeysPart {
  constructor(private readonly ctx: PgContext) {}

  async create(key: ApiKey): Promise<void> {
    try {
      await this.ctx.pool.query(
        `INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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
    const { rows } = await this.ctx.query<ApiKeyRow>(`SELECT * FROM api_keys WHERE hash = $1`, [hash]);
    return rows[0] && PG_ROWS.toApiKey(rows[0]);
  }

  async list(): Promise<ApiKey[]> {
    return (await this.ctx.query<ApiKeyRow>(`SELECT * FROM api_keys ORDER BY id`)).rows.map(PG_ROWS.toApiKey);
  }

  async revoke(id: string, now: number): Promise<ApiKey | undefined> {
    const { rows } = await this.ctx.query<ApiKeyRow>(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING *`, [now, id]);
    return rows[0] && PG_ROWS.toApiKey(rows[0]);
  }

  async countActive(): Promise<number> {
    return (await this.ctx.query<{ n: number }>(`SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL`)).rows[0]!.n;
  }
}
