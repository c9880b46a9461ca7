import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import ajvErrorsModule from "ajv-errors";
import ajvFormatsModule from "ajv-formats";
import { HubError } from "../errors.js";
import { topicNameProblem } from "../routing/topic-pattern.js";
import type { Store, Topic, TopicInput, TopicPatch } from "../store/store.js";

// Both plugins are CommonJS with a default export; under NodeNext the namespace object may wrap it.
const ajvErrors = ((ajvErrorsModule as unknown as { default?: unknown }).default ?? ajvErrorsModule) as (ajv: Ajv) => Ajv;
const ajvFormats = ((ajvFormatsModule as unknown as { default?: unknown }).default ?? ajvFormatsModule) as (ajv: Ajv) => Ajv;

const TEXT_LIMIT = 4096;

/**
 * Topics, with their JSON Schemas compiled once and kept in memory so that ingest checks an event without a
 * store round trip. All topic writes go through here, which keeps the cache true on this node.
 */
export class TopicCatalog {
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction | null>();
  private readonly store: Store;
  private readonly now: () => number;

  constructor(store: Store, now: () => number = Date.now) {
    this.store = store;
    this.now = now;
    this.ajv = new Ajv({ allErrors: true, strict: false, messages: true });
    ajvFormats(this.ajv);
    ajvErrors(this.ajv);
  }

  /** Loads every topic's schema; call once at start. */
  async load(): Promise<void> {
    this.validators.clear();
    for (const topic of await this.store.topics.list()) this.validators.set(topic.name, this.compileSchema(topic.schema, topic.name));
  }

  /** Whether the topic exists (as far as this node knows; auto-created topics are learnt on first sight). */
  has(name: string): boolean {
    return this.validators.has(name);
  }

  /** Notes topics created by ingest, which have no schema. */
  noteCreated(names: Iterable<string>): void {
    for (const name of names) if (!this.validators.has(name)) this.validators.set(name, null);
  }

  /**
   * Checks data against the topic's schema.
   * @throws HubError `SB_EVENT_SCHEMA_MISMATCH` with the schema's message.
   */
  validate(topic: string, data: unknown, where = ""): void {
    const validate = this.validators.get(topic);
    if (!validate) return;
    if (!validate(data)) {
      const message = formatErrors(validate.errors ?? []);
      throw new HubError("SB_EVENT_SCHEMA_MISMATCH", where ? `event ${where}: ${message}` : message);
    }
  }

  async create(input: unknown): Promise<Topic> {
    const topic = parseTopicInput(input);
    const validator = this.compileSchema(topic.schema ?? null, topic.name);
    const created = await this.store.topics.create(topic, this.now());
    this.validators.set(created.name, validator);
    return created;
  }

  async get(name: string): Promise<Topic> {
    const topic = await this.store.topics.get(name);
    if (!topic) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(name)} does not exist`);
    return topic;
  }

  list(): Promise<Topic[]> {
    return this.store.topics.list();
  }

  async update(name: string, input: unknown): Promise<Topic> {
    const patch = parseTopicPatch(input);
    const validator = patch.schema !== undefined ? this.compileSchema(patch.schema, name) : undefined;
    const updated = await this.store.topics.update(name, patch, this.now());
    if (!updated) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(name)} does not exist`);
    if (validator !== undefined) this.validators.set(name, validator);
    return updated;
  }

  async delete(name: string): Promise<void> {
    if (!(await this.store.topics.delete(name))) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(name)} does not exist`);
    this.validators.delete(name);
  }

  private compileSchema(schema: unknown, topic: string): ValidateFunction | null {
    if (schema === null || schema === undefined) return null;
    if (typeof schema !== "object" && typeof schema !== "boolean") {
      throw new HubError("SB_TOPIC_SCHEMA_INVALID", `the schema of ${JSON.stringify(topic)} must be a JSON Schema object`);
    }
    try {
      return this.ajv.compile(schema as object);
    } catch (error) {
      throw new HubError("SB_TOPIC_SCHEMA_INVALID", (error as Error).message);
    }
  }
}

/** `user_id must be a positive integer` style: the field path, then the message; `errorMessage` texts as written. */
function formatErrors(errors: ErrorObject[]): string {
  const messages = errors.slice(0, 5).map((e) => {
    if (e.keyword === "errorMessage") return e.message ?? "is invalid";
    const path = e.instancePath ? e.instancePath.slice(1).replaceAll("/", ".") : "data";
    if (e.keyword === "required") return `${(e.params as { missingProperty: string }).missingProperty} is required`;
    if (e.keyword === "additionalProperties") {
      return `${path === "data" ? "" : `${path}: `}unexpected property ${(e.params as { additionalProperty: string }).additionalProperty}`;
    }
    return `${path} ${e.message ?? "is invalid"}`;
  });
  return messages.join("; ");
}

function parseTopicInput(input: unknown): TopicInput {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new HubError("SB_TOPIC_INVALID", "the body must be a JSON object with at least a name");
  }
  const o = input as Record<string, unknown>;
  if (o.name === undefined) throw new HubError("SB_TOPIC_INVALID", "name is required");
  const problem = topicNameProblem(o.name);
  if (problem) throw new HubError("SB_TOPIC_INVALID", problem);
  return { name: o.name as string, ...parseTopicPatch(o, ["name"]) };
}

function parseTopicPatch(input: unknown, extraKeys: string[] = []): TopicPatch {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new HubError("SB_TOPIC_INVALID", "the body must be a JSON object");
  }
  const o = input as Record<string, unknown>;
  const known = new Set(["description", "schema", "origin_host", "retention_ms", ...extraKeys]);
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new HubError("SB_TOPIC_INVALID", `unknown field ${JSON.stringify(k)}; topics have name, description, schema, origin_host, retention_ms`);
  }
  const patch: TopicPatch = {};
  if (o.description !== undefined) patch.description = optionalText(o.description, "description");
  if (o.origin_host !== undefined) patch.originHost = optionalText(o.origin_host, "origin_host");
  if (o.retention_ms !== undefined) {
    const r = o.retention_ms;
    if (r !== null && !(typeof r === "number" && Number.isSafeInteger(r) && r >= 0)) {
      throw new HubError("SB_TOPIC_INVALID", "retention_ms must be a whole number of milliseconds (0: keep forever) or null (the hub's default)");
    }
    patch.retentionMs = r;
  }
  if (o.schema !== undefined) {
    if (o.schema !== null && (typeof o.schema !== "object" || Array.isArray(o.schema))) {
      throw new HubError("SB_TOPIC_SCHEMA_INVALID", "schema must be a JSON Schema object or null");
    }
    patch.schema = o.schema;
  }
  return patch;
}

function optionalText(value: unknown, field: string): string | null {
  if (value === null) return null;
  if (typeof value !== "string") throw new HubError("SB_TOPIC_INVALID", `${field} must be a string`);
  if (value.length > TEXT_LIMIT) throw new HubError("SB_TOPIC_INVALID", `${field} is at most ${TEXT_LIMIT} characters`);
  return value;
}
