import type Database from "better-sqlite3";
import type { AcquireLeasesRequest, HeartbeatRequest, LeasesPart, ReleaseLeasesRequest } from "../store.js";
import * as SQL from "./sql/leases.js";
import { SqlitePart } from "./sqlite-state.js";

/** One process owns a SQLite file, so its one node normally holds every lease; the rules are the same as PostgreSQL's. */
export class SqliteLeases extends SqlitePart<keyof typeof SQL> implements LeasesPart {
  constructor(db: Database.Database) {
    super(db, SQL);
  }

  async acquire({ nodeId, subscriptionIds, ttlMs, now }: AcquireLeasesRequest): Promise<string[]> {
    return this.db.transaction(() => {
      const held: string[] = [];
      for (const id of new Set(subscriptionIds)) {
        if (this.s.LEASE_ACQUIRE.run(id, nodeId, now + ttlMs, now).changes > 0) held.push(id);
      }
      return held;
    })();
  }

  async release({ nodeId, subscriptionIds }: ReleaseLeasesRequest): Promise<void> {
    this.db.transaction(() => {
      for (const id of subscriptionIds) this.s.LEASE_RELEASE.run(nodeId, id);
    })();
  }

  async heartbeat({ nodeId, now, ttlMs }: HeartbeatRequest): Promise<number> {
    return this.db.transaction(() => {
      this.s.NODE_SEEN.run(nodeId, now);
      this.s.NODES_FORGET.run(now - ttlMs * 10, nodeId);
      return 1 + (this.s.NODES_COUNT.get(now - ttlMs, nodeId) as { n: number }).n;
    })();
  }

  async removeNode(nodeId: string): Promise<void> {
    this.s.NODE_REMOVE.run(nodeId);
  }
}
