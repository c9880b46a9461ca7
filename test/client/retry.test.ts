import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Switchboard, SwitchboardError } from "../../src/client/index.js";

/** A fake hub (the real one cannot be made to answer 429 or 503 on cue): each request gets the next scripted reply. */
interface FakeHub {
  url: string;
  /** When each request arrived (Date.now()), and its method and path. */
  requests: Array<{ at: number; method: string; path: string; body: string }>;
  close(): Promise<void>;
}

type Scripted = { status: number; headers?: Record<string, string>; body?: unknown };

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function fakeHub(replies: Scripted[]): Promise<FakeHub> {
  const requests: FakeHub["requests"] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      requests.push({ at: Date.now(), method: req.method!, path: req.url!, body });
      const reply = replies[Math.min(requests.length - 1, replies.length - 1)]!;
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(JSON.stringify(reply.body ?? {}));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: async () => {} };
}

const rateLimited = (retryAfter: string): Scripted => ({
  status: 429,
  headers: { "retry-after": retryAfter },
  body: { error: "too many requests", details: "slow down", code: "SB_RATE_LIMITED" },
});
const shuttingDown: Scripted = { status: 503, headers: { "retry-after": "0" }, body: { error: "shutting down", details: "bye", code: "SB_SHUTTING_DOWN" } };
const published: Scripted = { status: 201, body: { id: "evt_1", seq: 1, topic: "t" } };

describe("429 and 503", () => {
  it("are retried after Retry-After, sending the same request again", async () => {
    const hub = await fakeHub([rateLimited("1"), shuttingDown, published]);
    const sb = new Switchboard({ url: hub.url });
    expect(await sb.publish("t", { n: 1 }, { idempotencyKey: "k" })).toEqual({ id: "evt_1", seq: 1, topic: "t" });
    expect(hub.requests).toHaveLength(3);
    expect(new Set(hub.requests.map((r) => `${r.method} ${r.path} ${r.body}`)).size).toBe(1);
    // Retry-After: 1 was honoured: the second request came no sooner than a second after the first.
    expect(hub.requests[1]!.at - hub.requests[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it("are retried at most maxRetries times, then thrown with the code and the Retry-After", async () => {
    const hub = await fakeHub([rateLimited("0")]);
    const sb = new Switchboard({ url: hub.url, maxRetries: 2 });
    const error = await sb.events.page().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwitchboardError);
    expect(error).toMatchObject({ code: "SB_RATE_LIMITED", status: 429, details: "slow down", retryAfterMs: 0 });
    expect(hub.requests).toHaveLength(3);
  });

  it("a Retry-After past maxRetryDelayMs is not waited for", async () => {
    const hub = await fakeHub([rateLimited("3600"), published]);
    const sb = new Switchboard({ url: hub.url, maxRetryDelayMs: 5000 });
    const error = (await sb.publish("t", {}).catch((e: unknown) => e)) as SwitchboardError;
    expect(error).toMatchObject({ code: "SB_RATE_LIMITED", retryAfterMs: 3_600_000 });
    expect(hub.requests).toHaveLength(1);
  });

  it("other errors are not retried", async () => {
    const hub = await fakeHub([{ status: 400, body: { error: "invalid event", details: "no", code: "SB_EVENT_INVALID" } }, published]);
    const sb = new Switchboard({ url: hub.url });
    expect(await sb.publish("t", {}).catch((e: unknown) => (e as SwitchboardError).code)).toBe("SB_EVENT_INVALID");
    expect(hub.requests).toHaveLength(1);
  });

  it("a reply that is not the catalog's is SB_CLIENT_BAD_REPLY with its status", async () => {
    const hub = await fakeHub([{ status: 502, body: "bad gateway" }]);
    const sb = new Switchboard({ url: hub.url });
    expect(await sb.events.page().catch((e: unknown) => e)).toMatchObject({ code: "SB_CLIENT_BAD_REPLY", status: 502 });
  });
});
