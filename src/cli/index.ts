#!/usr/bin/env node
import { Command } from "commander";
import { createApiKey, listApiKeys, revokeApiKey } from "../auth/api-keys.js";
import { apiKeyOut } from "../api/wire/keys.js";
import { configFlags, loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { SseParser } from "../client/sse-parser.js";
import { openStore } from "../store/index.js";

const program = new Command().name("switchboard").description("An event hub: durable ingest, live SSE streams, webhooks and search.").version("0.1.0");

const serve = program.command("serve", { isDefault: true }).description("run the hub (flags override env, which overrides the config file)");
// The flags come from the config schema (commander names each option after its key), and are passed on as text:
// the schema checks them like every other source (exit 2 naming the flag).
for (const { flags, description } of configFlags()) serve.option(flags, description);
serve.option("-c, --config <file>", "JSON config file (env SWITCHBOARD_CONFIG)").action(async (opts: Record<string, string | undefined>) => {
  const { config: configFile, ...overrides } = opts;
  // Loaded here, not at the top: the HTTP app (fastify, the route schemas' TypeBox) costs the client commands
  // (publish, tail, subscriptions, keys) most of a second of start-up otherwise.
  const { runServer } = await import("../main.js");
  await runServer(overrides, configFile);
});

program
  .command("migrate")
  .description("apply pending store migrations and exit")
  .option("--database-url <url>", "sqlite:PATH or postgres://… (env DATABASE_URL)")
  .action(async (opts: { databaseUrl?: string }) => {
    const config = loadConfig({ overrides: { databaseUrl: opts.databaseUrl } });
    const store = await openStore(config.databaseUrl, { pgPartitionSize: config.pgPartitionSize });
    await store.close();
    process.stdout.write(`migrated ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//***@")}\n`);
  });

const hubUrl = (opts: { url?: string }) => (opts.url ?? process.env.SWITCHBOARD_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`).replace(/\/+$/, "");
const apiBase = () => process.env.BASE_PATH ?? "/api";
/** `Authorization` for a hub with auth on: the token in SWITCHBOARD_TOKEN (an API key or a JWT). */
const authHeaders = (): Record<string, string> => (process.env.SWITCHBOARD_TOKEN ? { authorization: `Bearer ${process.env.SWITCHBOARD_TOKEN}` } : {});

program
  .command("publish")
  .description("publish one event; <json> is the data (use - to read it from stdin)")
  .argument("<topic>", "topic name")
  .argument("<json>", "the event's data as JSON, or - for stdin")
  .option("-u, --url <url>", "hub URL (env SWITCHBOARD_URL, default http://127.0.0.1:$PORT)")
  .option("-t, --type <type>", "event type")
  .option("-k, --key <key>", "ordering key")
  .option("-i, --id <id>", "event id (repeats are stored once)")
  .action(async (topic: string, json: string, opts: { url?: string; type?: string; key?: string; id?: string }) => {
    const text = json === "-" ? await readStdin() : json;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      fail(`<json> is not valid JSON: ${(error as Error).message}`);
    }
    const res = await fetch(`${hubUrl(opts)}${apiBase()}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ topic, data, type: opts.type, key: opts.key, id: opts.id }),
    }).catch((error: Error) => fail(`cannot reach ${hubUrl(opts)}: ${error.message}`));
    const body = await res.text();
    if (!res.ok) fail(`${res.status}: ${body}`);
    process.stdout.write(`${body}\n`);
  });

program
  .command("tail")
  .description("print a topic's live events, one JSON envelope per line (Ctrl-C to stop)")
  .argument("[topic]", "topic name or pattern such as orders.*; all topics when absent")
  .option("-u, --url <url>", "hub URL (env SWITCHBOARD_URL, default http://127.0.0.1:$PORT)")
  .option("-f, --filter <cel>", "CEL filter")
  .option("--from <id>", "replay stored events after this id first")
  .action(async (topic: string | undefined, opts: { url?: string; filter?: string; from?: string }) => {
    const params = new URLSearchParams({ envelope: "true" });
    if (topic) params.set("topic", topic);
    if (opts.filter) params.set("filter", opts.filter);
    let lastId = opts.from;
    for (;;) {
      try {
        const res = await fetch(`${hubUrl(opts)}/events?${params}`, {
          headers: { accept: "text/event-stream", ...authHeaders(), ...(lastId ? { "last-event-id": lastId } : {}) },
        });
        if (!res.ok || !res.body) fail(`${res.status}: ${await res.text()}`);
        const parser = new SseParser({
          lastEventId: lastId,
          onBlock: (block) => {
            lastId = parser.lastEventId || undefined;
            if (block.data === undefined) return;
            if (block.event) process.stderr.write(`${block.event}: ${block.data}\n`);
            else process.stdout.write(`${block.data}\n`);
          },
        });
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.push(chunk);
        process.stderr.write("stream ended; reconnecting\n");
      } catch (error) {
        process.stderr.write(`stream error: ${(error as Error).message}; reconnecting\n`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  });

/** Options every API command takes. */
interface ApiOptions {
  url?: string;
}

/**
 * One call to the hub's HTTP API: prints the JSON reply (nothing for 204); on an error status prints the hub's
 * `{error, details, code}` to stderr and exits 1.
 */
async function callApi(opts: ApiOptions, method: string, path: string, body?: unknown): Promise<void> {
  const base = hubUrl(opts);
  const res = await fetch(`${base}${apiBase()}${path}`, {
    method,
    headers: body === undefined ? authHeaders() : { "content-type": "application/json", ...authHeaders() },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((error: Error) => fail(`cannot reach ${base}: ${error.message}`));
  const text = await res.text();
  if (!res.ok) {
    process.stderr.write(`${text || JSON.stringify({ error: res.statusText, details: `HTTP ${res.status}` })}\n`);
    process.exit(1);
  }
  if (text !== "") process.stdout.write(`${text}\n`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const urlOption = ["-u, --url <url>", "hub URL (env SWITCHBOARD_URL, default http://127.0.0.1:$PORT)"] as const;
const id = (value: string) => encodeURIComponent(value);

const subscriptions = program.command("subscriptions").description("manage webhook subscriptions (prints the hub's JSON)");

subscriptions
  .command("list")
  .description("list every subscription")
  .option(...urlOption)
  .action((opts: ApiOptions) => callApi(opts, "GET", "/subscriptions"));

subscriptions
  .command("get")
  .description("show one subscription")
  .argument("<id>", "subscription id (sub_…)")
  .option(...urlOption)
  .action((subId: string, opts: ApiOptions) => callApi(opts, "GET", `/subscriptions/${id(subId)}`));

subscriptions
  .command("create")
  .description("create a subscription; prints it with its signing secret (here --url is the destination, --hub the hub)")
  .requiredOption("--topic <topic>", "topic name or pattern such as orders.*")
  .requiredOption("--url <url>", "where the events go: a webhook URL (POSTed to), or a broker url such as nats://host:4222/<subject>")
  .option("--filter <cel>", "CEL filter")
  .option("--header <name=value>", "extra request header (repeatable)", collect)
  .option("--ordering <mode>", "none or key (one delivery in flight per event key)")
  .option("--body <shape>", "data (the event's data, default) or envelope")
  .option("--start <where>", "now (default), beginning, or a time")
  .option("--hub <url>", "hub URL (env SWITCHBOARD_URL, default http://127.0.0.1:$PORT)")
  .action(async (opts: { hub?: string; topic: string; url: string; filter?: string; header?: string[]; ordering?: string; body?: string; start?: string }) => {
    const headers: Record<string, string> = {};
    for (const h of opts.header ?? []) {
      const eq = h.indexOf("=");
      if (eq <= 0) fail(`--header must look like name=value, got ${JSON.stringify(h)}`);
      headers[h.slice(0, eq)] = h.slice(eq + 1);
    }
    await callApi({ url: opts.hub }, "POST", "/subscriptions", {
      topic: opts.topic,
      url: opts.url,
      filter: opts.filter,
      headers: opts.header ? headers : undefined,
      ordering: opts.ordering,
      body: opts.body,
      start: opts.start,
    });
  });

subscriptions
  .command("delete")
  .description("delete a subscription and its deliveries")
  .argument("<id>", "subscription id")
  .option(...urlOption)
  .action(async (subId: string, opts: ApiOptions) => {
    await callApi(opts, "DELETE", `/subscriptions/${id(subId)}`);
    process.stdout.write(`${JSON.stringify({ deleted: subId })}\n`);
  });

for (const [name, description] of [
  ["pause", "stop delivering (events keep being stored; resume picks up where it left off)"],
  ["resume", "deliver again; clears a disabled state"],
] as const) {
  subscriptions
    .command(name)
    .description(description)
    .argument("<id>", "subscription id")
    .option(...urlOption)
    .action((subId: string, opts: ApiOptions) => callApi(opts, "POST", `/subscriptions/${id(subId)}/${name}`));
}

subscriptions
  .command("retry")
  .description("send the subscription's dead deliveries again (those created in [--from, --to) when given)")
  .argument("<id>", "subscription id")
  .option("--from <time>", "ISO 8601 time or epoch ms")
  .option("--to <time>", "ISO 8601 time or epoch ms")
  .option(...urlOption)
  .action((subId: string, opts: ApiOptions & { from?: string; to?: string }) =>
    callApi(opts, "POST", `/subscriptions/${id(subId)}/retry`, { from: opts.from, to: opts.to }),
  );

program
  .command("replay")
  .description("deliver again the stored events with time in [--from, --to) that the subscription selects")
  .argument("<subscription-id>", "subscription id")
  .requiredOption("--from <time>", "ISO 8601 time or epoch ms")
  .option("--to <time>", "ISO 8601 time or epoch ms (default: now)")
  .option(...urlOption)
  .action((subId: string, opts: ApiOptions & { from: string; to?: string }) =>
    callApi(opts, "POST", `/subscriptions/${id(subId)}/replay`, { from: opts.from, to: opts.to }),
  );

program
  .command("deliveries")
  .description("list webhook deliveries, newest first")
  .option("--subscription <id>", "only this subscription's")
  .option("--event <id>", "only this event's")
  .option("--status <status>", "pending, retrying, delivered or dead")
  .option("--limit <n>", "page size, 1 to 1000 (default 100)")
  .option("--cursor <id>", "next_cursor of the previous page")
  .option(...urlOption)
  .action((opts: ApiOptions & { subscription?: string; event?: string; status?: string; limit?: string; cursor?: string }) => {
    const params = new URLSearchParams();
    for (const key of ["subscription", "event", "status", "limit", "cursor"] as const) {
      const value = opts[key];
      if (value !== undefined) params.set(key, value);
    }
    const qs = params.toString();
    return callApi(opts, "GET", `/deliveries${qs ? `?${qs}` : ""}`);
  });

const keys = program
  .command("keys")
  .description("manage API keys directly in the store named by DATABASE_URL (no hub needed: this is how the first admin key is made)");

/** Opens the store, runs `fn`, closes the store. */
async function withStore<T>(databaseUrl: string | undefined, fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const config = loadConfig({ overrides: { databaseUrl } });
  const store = await openStore(config.databaseUrl, { pgPartitionSize: config.pgPartitionSize });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

keys
  .command("create")
  .description("create a key and print it with its token, shown this once (use it as Authorization: Bearer <token>)")
  .requiredOption("--scope <scope>", "admin, publish:<topic pattern> or subscribe:<topic pattern> (repeatable)", collect)
  .option("--name <name>", "a label for the key")
  .option("--database-url <url>", "sqlite:PATH or postgres://… (env DATABASE_URL)")
  .action(async (opts: { scope: string[]; name?: string; databaseUrl?: string }) => {
    const { key, token } = await withStore(opts.databaseUrl, (store) => createApiKey(store, { name: opts.name, scopes: opts.scope }));
    process.stdout.write(`${JSON.stringify(apiKeyOut(key, token))}\n`);
    process.stderr.write("switchboard: store the token now; it is not shown again\n");
  });

keys
  .command("list")
  .description("list keys (prefixes and scopes; never tokens)")
  .option("--database-url <url>", "sqlite:PATH or postgres://… (env DATABASE_URL)")
  .action(async (opts: { databaseUrl?: string }) => {
    const all = await withStore(opts.databaseUrl, (store) => listApiKeys(store));
    process.stdout.write(`${JSON.stringify({ data: all.map((k) => apiKeyOut(k)) })}\n`);
  });

keys
  .command("revoke")
  .description("revoke a key; a running hub refuses it from its next request")
  .argument("<id>", "key id (key_…)")
  .option("--database-url <url>", "sqlite:PATH or postgres://… (env DATABASE_URL)")
  .action(async (keyId: string, opts: { databaseUrl?: string }) => {
    const key = await withStore(opts.databaseUrl, (store) => revokeApiKey(store, keyId));
    process.stdout.write(`${JSON.stringify(apiKeyOut(key))}\n`);
  });

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

function fail(message: string): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(1);
}

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`switchboard: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`switchboard: ${(error as Error).message}\n`);
  process.exit(1);
});
