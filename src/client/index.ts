/**
 * `switchboard/client`: the TypeScript SDK of a Switchboard hub. It runs on Node's global `fetch` and imports nothing
 * of the hub's server (checked by test/client/imports.test.ts); its types come from the hub's route schemas.
 */
export { Switchboard, EventsApi, TopicsApi, SubscriptionsApi, DeliveriesApi, KeysApi, type SwitchboardOptions, type ImportOptions } from "./switchboard.js";
export { EventStream, type StreamOptions, type StreamReset } from "./stream.js";
export { SwitchboardError, type ClientErrorCode } from "./errors.js";
export { verifyWebhook, type VerifyWebhookOptions, type WebhookHeaders } from "./verify-webhook.js";
export { SseParser, parseSse, type SseBlock, type SseParserOptions } from "./sse-parser.js";
export type * from "./types.js";
