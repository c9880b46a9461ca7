import { verifySignature } from "../delivery/webhooks/sign.js";

/** Request headers as node:http, fastify (`IncomingHttpHeaders`) or fetch (`Headers`) give them. */
export type WebhookHeaders = Headers | Record<string, string | readonly string[] | undefined>;

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock, epoch ms (default `Date.now()`). */
  now?: number;
}

/**
 * True when a webhook comes from the hub that holds `secret` (Standard Webhooks; docs/signing.md): one `v1` entry of
 * `webhook-signature` is the HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}`, compared in constant time,
 * and the timestamp is within 5 minutes. Pass the body exactly as received, before any JSON parsing.
 * @example
 * if (!verifyWebhook(process.env.WEBHOOK_SECRET!, req.headers, rawBody)) return res.writeHead(401).end();
 */
export function verifyWebhook(secret: string, headers: WebhookHeaders, body: string | Uint8Array, options: VerifyWebhookOptions = {}): boolean {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signature = header(headers, "webhook-signature");
  if (id === undefined || timestamp === undefined || signature === undefined || !/^\d{1,15}$/.test(timestamp)) return false;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  try {
    return verifySignature(secret, id, Number(timestamp), body, signature, options.toleranceSeconds ?? 300, nowSeconds);
  } catch {
    return false; // a secret that is not base64 verifies nothing
  }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | readonly string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  return typeof value === "string" ? value : value?.[0];
}
