import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import ajvErrorsModule from "ajv-errors";
import ajvFormatsModule from "ajv-formats";
import { HubError } from "../errors.js";
import { topicNameProblem } from "../routing/topic-pattern.js";
import type { Store, Topic, TopicInput, TopicPatch, TopicStorage } from "../store/store.js";

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
  /** The live-only topics (`storage: "none"`): their events go to the open streams and are never written. */
  private readonly live = new Set<string>();
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
    // Read first, then swap at once: a reload never leaves the catalog empty while the list is read.
    const topics = await this.store.topics.list();
    this.validators.clear();
    this.live.clear();
    for (const topic of topics) this.remember(topic);
  }

  /**
   * Reads one topic again (another node changed it), or all of them when `name` is undefined (changes may have been
   * missed).
   */
  async reload(name?: string): Promise<void> {
    if (name === undefined) return this.load();
    const topic = await this.store.topics.get(name);
    if (topic) this.remember(topic);
    else this.forget(name);
  }

  /** Whether any topic is live-only: while none is, ingest skips looking. */
  get hasLiveTopics(): boolean {
    return this.live.size > 0;
  }

  /** Whether the topic is live-only (`storage: "none"`). */
  isLive(name: string): boolean {
    return this.live.has(name);
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

  /**
   * Creates a topic; its schema is compiled first.
   * @throws HubError 400 naming the field at fault; 409 when it exists.
   */
  async create(input: TopicInput): Promise<Topic> {
    const topic = checkTopicInput(input);
    const validator = this.compileSchema(topic.schema ?? null, topic.name);
    const created = await this.store.topics.create(topic, this.now());
    this.validators.set(created.name, validator);
    this.noteStorage(created.name, created.storage);
    await this.announce(created.name);
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

  /**
   * Changes the fields given; a new schema is compiled first.
   * @throws HubError `SB_TOPIC_LIVE_ONLY` when making live-only a topic that subscriptions name exactly (they would
   *   never get another event).
   */
  async update(name: string, changes: TopicPatch): Promise<Topic> {
    const patch = checkTopicPatch(changes);
    const validator = patch.schema !== undefined ? this.compileSchema(patch.schema, name) : undefined;
    if (patch.storage === "none") await this.refuseIfSubscribed(name);
    const updated = await this.store.topics.update(name, patch, this.now());
    if (!updated) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(name)} does not exist`);
    if (validator !== undefined) this.validators.set(name, validator);
    this.noteStorage(name, updated.storage);
    await this.announce(name);
    return updated;
  }

  async delete(name: string): Promise<void> {
    if (!(await this.store.topics.delete(name))) throw new HubError("SB_TOPIC_NOT_FOUND", `topic ${JSON.stringify(name)} does not exist`);
    this.forget(name);
    await this.announce(name);
  }

  /** Tells the other nodes sharing the database to read the topic again (its schema, its storage). */
  private async announce(name: string): Promise<void> {
    await this.store.cluster?.announceTopicChange(name);
  }

  private remember(topic: Topic): void {
    this.validators.set(topic.name, this.compileSchema(topic.schema, topic.name));
    this.noteStorage(topic.name, topic.storage);
  }

  private forget(name: string): void {
    this.validators.delete(name);
    this.live.delete(name);
  }

  private noteStorage(name: string, storage: TopicStorage): void {
    if (storage === "none") this.live.add(name);
    else this.live.delete(name);
  }

  /** Subscriptions (webhooks, destinations, handlers) of exactly this topic: it cannot become live-only under them. */
  private async refuseIfSubscribed(name: string): Promise<void> {
    const named = (await this.store.subscriptions.list()).filter((s) => s.topic === name);
    if (named.length === 0) return;
    const ids = named.slice(0, 5).map((s) => s.id);
    throw new HubError(
      "SB_TOPIC_LIVE_ONLY",
      `topic ${JSON.stringify(name)} has ${named.length} subscription(s) (${ids.join(", ")}${named.length > 5 ? ", …" : ""}); ` +
        `a live-only topic stores nothing to deliver: delete them first`,
    );
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

function checkTopicInput(input: TopicInput): TopicInput {
  const problem = topicNameProblem(input.name);
  if (problem) throw new HubError("SB_TOPIC_INVALID", problem);
  return { name: input.name, ...checkTopicPatch(input) };
}

/** The checks the types cannot make: text lengths, the retention range, a schema that is an object. */
function checkTopicPatch(input: TopicPatch): TopicPatch {
  const patch: TopicPatch = {};
  if (input.description !== undefined) patch.description = optionalText(input.description, "description");
  if (input.originHost !== undefined) patch.originHost = optionalText(input.originHost, "originHost");
  if (input.retentionMs !== undefined) {
    const r = input.retentionMs;
    if (r !== null && !(Number.isSafeInteger(r) && r >= 0)) {
      throw new HubError("SB_TOPIC_INVALID", "retentionMs must be a whole number of milliseconds (0: keep forever) or null (the hub's default)");
    }
    patch.retentionMs = r;
  }
  if (input.storage !== undefined) {
    if (input.storage !== "log" && input.storage !== "none") throw new HubError("SB_TOPIC_INVALID", 'storage must be "log" or "none"');
    patch.storage = input.storage;
  }
  if (input.schema !== undefined) {
    if (input.schema !== null && (typeof input.schema !== "object" || Array.isArray(input.schema))) {
      throw new HubError("SB_TOPIC_SCHEMA_INVALID", "schema must be a JSON Schema object or null");
    }
    patch.schema = input.schema;
  }
  return patch;
}

function optionalText(value: string | null, field: string): string | null {
  if (value !== null && value.length > TEXT_LIMIT) throw new HubError("SB_TOPIC_INVALID", `${field} is at most ${TEXT_LIMIT} characters`);
  return value;
}
