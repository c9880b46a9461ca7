import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { eventually, request } from "../helpers/hub.js";
import { openLiveSse } from "../helpers/sse.js";

const SECRET = "log-redaction-test-secret-0123456789abcd";
/** Every line the hub logged, as written. */
const lines: string[] = [];
let server: RunningServer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchboard-test-"));
  const config = loadConfig({
    env: {},
    overrides: { port: 0, host: "127.0.0.1", logLevel: "info", databaseUrl: `sqlite:${join(dir, "hub.db")}`, jwtSecret: SECRET },
  });
  server = await startServer(config, createLogger("info", {}, { write: (line: string) => void lines.push(line) }));
});
afterAll(async () => {
  await server?.shutdown();
  await rm(dir, { recursive: true, force: true });
});

const secretLike = () => `tok${randomBytes(12).toString("hex")}`;

/** The `url` of the logged lines whose url holds `needle`. */
function loggedUrls(needle: string): string[] {
  return lines.map((l) => JSON.parse(l) as { url?: string }).flatMap((l) => (l.url?.includes(needle) ? [l.url] : []));
}

describe("request logs", () => {
  it("redact access_token however its name is encoded, repeated or separated", async () => {
    const tokens = Array.from({ length: 6 }, secretLike);
    const paths = [
      `/api/events?topic=logs.a&access_token=${tokens[0]}`,
      `/api/events?topic=logs.b&access%5Ftoken=${tokens[1]}`,
      `/api/events?topic=logs.c&%61ccess_token=${tokens[2]}`,
      `/api/events?topic=logs.d&access_token=${tokens[3]}&ACCESS%5ftoken=keep&access%5ftoken=${tokens[4]}`,
      `/api/events?topic=logs.e;access%5Ftoken=${tokens[5]}`,
    ];
    for (const path of paths) expect((await request(`${server.url}${path}`)).status, path).toBe(401);
    await eventually("the request lines", () => (loggedUrls("logs.e").length > 0 ? true : undefined));
    const text = lines.join("");
    for (const t of tokens) expect(text).not.toContain(t);
    expect(loggedUrls("logs.b")).toEqual(["/api/events?topic=logs.b&access%5Ftoken=[redacted]"]);
    expect(loggedUrls("logs.c")).toEqual(["/api/events?topic=logs.c&%61ccess_token=[redacted]"]);
    expect(loggedUrls("logs.d")).toEqual(["/api/events?topic=logs.d&access_token=[redacted]&ACCESS%5ftoken=keep&access%5ftoken=[redacted]"]);
    expect(loggedUrls("logs.e")).toEqual(["/api/events?topic=logs.e;access%5Ftoken=[redacted]"]);
  });

  it("redact the token a stream was opened with through an encoded name, in the request and stream-closed lines", async () => {
    const token = await new SignJWT({ scope: "subscribe:**" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("reader")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(SECRET));
    // The query parser decodes the name, so the hub takes the token from access%5Ftoken.
    const conn = await openLiveSse(server.url, `/events?topic=logs.stream&access%5Ftoken=${token}`);
    expect(conn.status).toBe(200);
    conn.close();
    await conn.closed;
    await eventually("the stream-closed line", () => (lines.some((l) => l.includes('"stream closed"')) ? true : undefined));
    expect(lines.join("")).not.toContain(token);
    expect(loggedUrls("logs.stream")).toContain("/events?topic=logs.stream&access%5Ftoken=[redacted]");
  });
});
