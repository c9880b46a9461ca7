import type Database from "better-sqlite3";
import { HubError } from "../../errors.js";
import type { ApiKeyRow } from "../rows.js";
import type { ApiKey, KeysPart } from "../store.js";
import * as SQL from "./sql/keys.js";
import { SqlitePart, SQLITE_ROWS } from "./sqlite-state.js";

/** SQLite API keys. */
export class SqliteKeys extends SqlitePart<keyof typeof SQL> implements KeysPart {
  constructor(db: Database.Database) {
    super(db, SQL);
  }

  async create(key: ApiKey): Promise<void> {
    try {
      this.s.API_KEY_INSERT.run(key.id, key.name, key.hash, key.prefix, JSON.stringify(key.scopes), key.createdAt, key.revokedAt);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new HubError("SB_API_KEY_EXISTS", `an API key with id ${JSON.stringify(key.id)} or the same token already exists`);
      }
      throw error;
    }
  }

  async findByHash(hash: string): Promise<ApiKey | undefined> {
    const row = this.s.API_KEY_BY_HASH.get(hash) as ApiKeyRow | undefined;
    return row && SQLITE_ROWS.toApiKey(row);
  }

  async list(): Promise<ApiKey[]> {
    return (this.s.API_KEY_LIST.all() as ApiKeyRow[]).map(SQLITE_ROWS.toApiKey);
  }

  async revoke(id: string, now: number): Promise<ApiKey | undefined> {
    this.s.API_KEY_REVOKE.run(now, id);
    const row = this.s.API_KEY_BY_ID.get(id) as ApiKeyRow | undefined;
    return row && SQLITE_ROWS.toApiKey(row);
  }

  async countActive(): Promise<number> {
    return (this.s.API_KEY_COUNT_ACTIVE.get() as { n: number }).n;
  }
}
