/**
 * Switchboard as a library: `createHub` for in-process publishing and handlers, `startServer` for the HTTP hub.
 * @example
 * import { createHub } from "switchboard";
 * const hub = await createHub({ databaseUrl: "sqlite:./data/app.db" });
 */
export {
  createHub,
  type BackoffFunction,
  type ErrorInfo,
  type ErrorReporter,
  type Handler,
  type HandlerContext,
  type HandlerOptions,
  type HandlerRegistration,
  type Hub,
  type HubOptions,
  type PublishInput,
  type Outbox,
  type OutboxReceipt,
} from "./hub.js";
export { startServer, type RunningServer } from "./server.js";
export { buildApp, type App, type BuildAppOptions } from "./api/build-app.js";
export { loadConfig, DEFAULT_CONFIG, type Config, type LoadConfigOptions } from "./config.js";
export { HubError, ConfigError, ERRORS, type ErrorCode, type ErrorBody } from "./errors.js";
export { compileFilter, type EventFilter } from "./routing/filter.js";
export type { Store, StoredEvent, Topic } from "./store/store.js";
export { openStore, parseDatabaseUrl } from "./store/index.js";
export { createApiKey, listApiKeys, revokeApiKey, type ApiKeyInput, type CreatedApiKey } from "./auth/api-keys.js";
export { patternCovers } from "./routing/topic-pattern.js";
export type { ApiKey } from "./store/store.js";
