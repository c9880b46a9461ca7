import { createHmac } from "node:crypto";
import { expect } from "vitest";
import { Switchboard, type SubscriptionCreateBody } from "../../src/client/index.js";
import { postJson, request } from "./hub.js";
import type { ReceivedRequest } from "./receiver.js";

/** A short retry schedule in seconds: first attempt at once, then 0.1 s and 0.2 s. */
export const FAST_RETRY = { schedule: [0, 0.1, 0.2] };

/** Creates a subscription through the SDK (an error throws) and returns its wire form, secret included. */
export async function createSubscription(hubUrl: string, body: Record<string, unknown>): Promise<any> {
  return new Switchboard({ url: hubUrl }).subscriptions.create(body as unknown as SubscriptionCreateBody);
}

/** Publishes one event or a batch (201 expected); returns the results, always as an array. */
export async function publish(hubUrl: string, events: unknown): Promise<Array<{ id: string; seq: number; topic: string }>> {
  const reply = await postJson(`${hubUrl}/api/events`, events);
  expect(reply.status, `POST /api/events: ${reply.text}`).toBe(201);
  return Array.isArray(reply.body) ? reply.body : [reply.body];
}

/** Publishes `count` events through the SDK, in batches of at most 500 (the batch limit is 1000). */
export async function publishMany(hubUrl: string, topic: string, count: number, data: (i: number) => unknown = (i) => ({ i })) {
  const sb = new Switchboard({ url: hubUrl });
  const out: Array<{ id: string; seq: number; topic: string }> = [];
  for (let start = 0; start < count; start += 500) {
    const results = await sb.publishBatch(Array.from({ length: Math.min(500, count - start) }, (_, k) => ({ topic, data: data(start + k) })));
    for (const r of results) {
      if (r.seq === null) throw new Error(`publishMany: topic ${topic} is live-only`);
      out.push({ id: r.id, seq: r.seq, topic: r.topic });
    }
  }
  return out;
}

/** GET that expects 200 and returns the body. */
export async function getJson(url: string): Promise<any> {
  const reply = await request(url);
  expect(reply.status, `GET ${url}: ${reply.text}`).toBe(200);
  return reply.body;
}

/**
 * What a Standard Webhooks receiver computes, written out with node:crypto instead of the hub's own code:
 * `v1,` + base64(HMAC-SHA256(base64decode(secret without whsec_), `${id}.${timestamp}.${body}`)).
 */
export function expectedSignature(secret: string, req: ReceivedRequest): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const id = String(req.headers["webhook-id"]);
  const timestamp = String(req.headers["webhook-timestamp"]);
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${req.body}`).digest("base64")}`;
}

/** The `ce-id` of a request (the event id). */
export function eventIdOf(req: ReceivedRequest): string {
  return String(req.headers["ce-id"]);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
