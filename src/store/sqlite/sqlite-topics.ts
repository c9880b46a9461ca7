import type Database from "better-sqlite3";
import { HubError } from "../../errors.js";
import { topicColumns, type TopicRow } from "../rows.js";
import type { Topic, TopicInput, TopicPatch, TopicsPart } from "../store.js";
import * as SQL from "./sql/topics.js";
import { prepareAll, SQLITE_ROWS, type SqliteState } from "./sqlite-state.js";

/** SQLite topics; keeps the store's set of known topics, which appends consult. */
export class SqliteTopics implements TopicsPart {
  private s!: Record<keyof typeof SQL, Database.Statement>;

  constructor(private readonly state: SqliteState) {}

  /** Prepares the statements and learns the topics; after migrations. */
  init(): void {
    this.s = prepareAll(this.state.db, SQL);
    for (const row of this.s.TOPIC_NAMES.all() as { name: string }[]) this.state.knownTopics.add(row.name);
  }

  async create(input: TopicInput, now: number): Promise<Topic> {
    try {
      this.s.TOPIC_INSERT.run(...topicColumns(input), now, now);
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
        throw new HubError("SB_TOPIC_EXISTS", `topic ${JSON.stringify(input.name)} already exists`);
      }
      throw error;
    }
    this.state.knownTopics.add(input.name);
    return (await this.get(input.name))!;
  }

  async get(name: string): Promise<Topic | undefined> {
    const row = this.s.TOPIC_GET.get(name) as TopicRow | undefined;
    return row && SQLITE_ROWS.toTopic(row);
  }

  async list(): Promise<Topic[]> {
    return (this.s.TOPIC_LIST.all() as TopicRow[]).map(SQLITE_ROWS.toTopic);
  }

  async update(name: string, patch: TopicPatch, now: number): Promise<Topic | undefined> {
    const sets: string[] = ["updated_at = ?"];
    const params: unknown[] = [now];
    const set = (column: string, value: unknown): void => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (patch.description !== undefined) set("description", patch.description);
    if (patch.schema !== undefined) set("schema", patch.schema === null ? null : JSON.stringify(patch.schema));
    if (patch.originHost !== undefined) set("origin_host", patch.originHost);
    if (patch.retentionMs !== undefined) set("retention_ms", patch.retentionMs);
    if (patch.storage !== undefined) set("storage", patch.storage);
    params.push(name);
    const info = this.state.db.prepare(`UPDATE topics SET ${sets.join(", ")} WHERE name = ?`).run(...params);
    return info.changes === 0 ? undefined : this.get(name);
  }

  async delete(name: string): Promise<boolean> {
    const deleted = this.state.db.transaction(() => {
      this.s.TOPIC_EVENTS_DELETE.run(name);
      return this.s.TOPIC_DELETE.run(name).changes > 0;
    })();
    this.state.knownTopics.delete(name);
    return deleted;
  }

  /** Counts for the store's stats. */
  counts(): { events: number; topics: number } {
    return this.s.COUNT_EVENTS.get() as { events: number; topics: number };
  }
}
