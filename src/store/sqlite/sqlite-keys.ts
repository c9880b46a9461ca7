import type Database from "better-sqlite3";
import { HubError } from "../../errors.js";
import type { ApiKeyRow } from "../rows.js";
import type { ApiKey, KeysPart } from "../store.js";
import * as SQL from "./sql/keys.js";
import { SqlitePart, SQLITE_ROWS } from "./sqlite-state.js";

/** SQLite API keys. */
export class SqliteKeys extends SqlitePart<keyof typeof SQL> implements KeysPart {
  /** Keys created or revoked through this store: its own commits do not move `PRAGMA data_version`. */
  private writes = 0;
  /** `PRAGMA data_version` as read in this turn of the event loop; undefined from the next turn on. */
  private dataVersion: number | undefined;

  constructor(db: Database.Database) {
    super(db, SQL);
  }

  /**
   * `PRAGMA data_version` (moved by every other connection's commit) and this store's own key writes. The pragma takes a
   * read lock, two system calls, as much as the key's own lookup: it is read once a turn of the event loop, so another
   * process's revocation is seen from the next turn (the requests of this one were read before it anyway).
   */
  changeStamp(): number {
    if (this.dataVersion === undefined) {
      this.dataVersion = (this.s.DATA_VERSION.get() as { data_version: number }).data_version;
      setImmediate(() => (this.dataVersion = undefined));
    }
    return this.dataVersion + this.writes * 2 ** 32;
  }

  async create(key: ApiKey): Promise<void> {
    this.writes++;
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
    this.writes++;
    this.s.API_KEY_REVOKE.run(now, id);
    const row = this.s.API_KEY_BY_ID.get(id) as ApiKeyRow | undefined;
    return row && SQLITE_ROWS.toApiKey(row);
  }

  async countActive(): Promise<number> {
    return (this.s.API_KEY_COUNT_ACTIVE.get() as { n: number }).n;
  }
}
