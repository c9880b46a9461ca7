import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Switchboard, type EventSearch } from "../../src/client/index.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";

/** A hub listening on a random port with its own SQLite file. */
export interface TestHub {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  server: RunningServer;
  /** Temp directory holding the SQLite file; removed by `close()`. */
  dir: string;
  /** Shuts the hub down and removes its directory. */
  close(): Promise<void>;
}

/**
 * Starts a hub on port 0 with a fresh SQLite file in a temp directory, logging nothing.
 * @example
 * const hub = await startTestHub({ autoCreateTopics: false });
 * afterAll(() => hub.close());
 */
export async function startTestHub(overrides: Partial<Config> = {}): Promise<TestHub> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-test-"));
  let server: RunningServer;
  try {
    const config = loadConfig({
      env: {},
      overrides: { port: 0, host: "127.0.0.1", logLevel: "silent", databaseUrl: `sqlite:${join(dir, "hub.db")}`, ...overrides },
    });
    server = await startServer(config, createLogger("silent"));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    server,
    dir,
    close() {
      closing ??= (async () => {
        try {
          await server.shutdown();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
}

/** A reply read whole: status, headers and the body parsed as JSON when it is JSON. */
export interface JsonReply<T = any> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

/** `fetch` that reads the whole body and parses JSON (leaves `body` undefined when the reply is not JSON). */
export async function request<T = any>(url: string, init: RequestInit = {}): Promise<JsonReply<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any;
  if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") body = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, body };
}

/** POSTs `body` as JSON text (a string is sent as it is), with `content-type: application/json` unless given. */
export function postJson<T = any>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
  return request<T>(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Every stored event, oldest first, read through `GET /api/events` page by page (the SDK's search). */
export async function listAllEvents(baseUrl: string, params: Record<string, string> = {}): Promise<any[]> {
  const out: any[] = [];
  // Other parameters than the search's own are data-field equalities, which the SDK sends as they are.
  for await (const event of new Switchboard({ url: baseUrl }).events.search({ limit: 1000, ...params } as EventSearch)) out.push(event);
  return out;
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one unlabelled sample in a Prometheus text exposition, or undefined when absent. */
export function metricValue(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
