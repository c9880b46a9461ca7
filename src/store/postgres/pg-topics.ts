import { HubError } from "../../errors.js";
import { topicColumns, type TopicRow } from "../rows.js";
import type { Topic, TopicInput, TopicPatch, TopicsPart } from "../store.js";
import { isUniqueViolation, PG_ROWS, translateError, type PgContext } from "./pg-util.js";
import { TAKE_APPEND_LOCK, TOPIC_DELETE, TOPIC_EVENTS_DELETE, TOPIC_GET, TOPIC_INSERT, TOPIC_LIST } from "./sql/topics.js";

/** PostgreSQL topics. */
export class PgTopics implements TopicsPart {
  constructor(private readonly ctx: PgContext) {}

  async create(input: TopicInput, now: number): Promise<Topic> {
    try {
      const { rows } = await this.ctx.pool.query<TopicRow>(TOPIC_INSERT, [...topicColumns(input), now]);
      return PG_ROWS.toTopic(rows[0]!);
    } catch (error) {
      if (isUniqueViolation(error)) throw new HubError("SB_TOPIC_EXISTS", `topic ${JSON.stringify(input.name)} already exists`);
      throw translateError(error);
    }
  }

  async get(name: string): Promise<Topic | undefined> {
    return this.ctx.one(TOPIC_GET, [name], PG_ROWS.toTopic);
  }

  async list(): Promise<Topic[]> {
    return this.ctx.all(TOPIC_LIST, [], PG_ROWS.toTopic);
  }

  async update(name: string, patch: TopicPatch, now: number): Promise<Topic | undefined> {
    const params: unknown[] = [now];
    const sets = ["updated_at = $1"];
    const set = (column: string, value: unknown): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.description !== undefined) set("description", patch.description);
    if (patch.schema !== undefined) set("schema", patch.schema === null ? null : JSON.stringify(patch.schema));
    if (patch.originHost !== undefined) set("origin_host", patch.originHost);
    if (patch.retentionMs !== undefined) set("retention_ms", patch.retentionMs);
    if (patch.storage !== undefined) set("storage", patch.storage);
    params.push(name);
    return this.ctx.one(`UPDATE topics SET ${sets.join(", ")} WHERE name = $${params.length} RETURNING *`, params, PG_ROWS.toTopic);
  }

  async delete(name: string): Promise<boolean> {
    return this.ctx.transaction(async (client) => {
      // Under the append lock: an append in flight could otherwise store events in the topic (and miss its row
      // when bumping the counters) between these two deletes, leaving events without a topic.
      await client.query(TAKE_APPEND_LOCK);
      await client.query(TOPIC_EVENTS_DELETE, [name]);
      return ((await client.query(TOPIC_DELETE, [name])).rowCount ?? 0) > 0;
    });
  }
}
