import { EVENT_READ_COLUMNS, prefixUpperBound } from "../rows.js";
import type { EventQuery } from "../store.js";

/** The SELECT of an event search and its parameters. */
export function searchEventsSql(q: EventQuery): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const topicTerms: string[] = [];
  if (q.topics?.length) {
    topicTerms.push(`topic IN (${q.topics.map(() => "?").join(", ")})`);
    params.push(...q.topics);
  }
  for (const prefix of q.topicPrefixes ?? []) {
    topicTerms.push(`(topic >= ? AND topic < ?)`);
    params.push(prefix, prefixUpperBound(prefix));
  }
  if (topicTerms.length) where.push(`(${topicTerms.join(" OR ")})`);
  const term = (sql: string, value: unknown): void => {
    where.push(sql);
    params.push(value);
  };
  if (q.type !== undefined) term(`type = ?`, q.type);
  if (q.key !== undefined) term(`key = ?`, q.key);
  if (q.fromTime !== undefined) term(`time >= ?`, q.fromTime);
  if (q.toTime !== undefined) term(`time < ?`, q.toTime);
  for (const { field, value } of q.dataEquals ?? []) {
    const path = `$."${field}"`;
    if (value === null) term(`json_type(data, ?) = 'null'`, path);
    else if (typeof value === "boolean") {
      where.push(`json_type(data, ?) = ?`);
      params.push(path, value ? "true" : "false");
    } else if (typeof value === "number") {
      // `user_id=123` matches the number 123 and the string "123".
      where.push(`(json_extract(data, ?) = ? AND json_type(data, ?) IN ('integer', 'real') OR json_extract(data, ?) = ? AND json_type(data, ?) = 'text')`);
      params.push(path, value, path, path, String(value), path);
    } else {
      where.push(`json_extract(data, ?) = ? AND json_type(data, ?) = 'text'`);
      params.push(path, value, path);
    }
  }
  const desc = q.order === "desc";
  if (q.after) {
    where.push(desc ? `(time, seq) < (?, ?)` : `(time, seq) > (?, ?)`);
    params.push(q.after.time, q.after.seq);
  }
  const dir = desc ? "DESC" : "ASC";
  const sql = `SELECT ${EVENT_READ_COLUMNS} FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time ${dir}, seq ${dir} LIMIT ?`;
  params.push(q.limit);
  return { sql, params };
}
