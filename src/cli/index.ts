#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { runServer } from "../main.js";
import { openStore } from "../store/index.js";

const program = new Command()
  .name("switchboard")
  .description("An event hub: durable ingest, live SSE streams and search.")
  .version("0.1.0");

const port = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  return Number(v);
};

program
  .command("serve", { isDefault: true })
  .description("run the hub (flags override env, which overrides the config file)")
  .option("-p, --port <port>", "TCP port (env PORT, default 8080)", port)
  .option("-H, --host <host>", "interface to bind (env HOST, default 127.0.0.1)")
  .option("--database-url <url>", "sqlite:PATH or postgres://… (env DATABASE_URL)")
  .option("--base-path <path>", "API prefix (env BASE_PATH, default /api)")
  .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL)")
  .option("-c, --config <file>", "JSON config file (env SWITCHBOARD_CONFIG)")
  .action(async (opts: { port?: number; host?: string; databaseUrl?: string; basePath?: string; logLevel?: string; config?: string }) => {
    await runServer(
      { port: opts.port, host: opts.host, databaseUrl: opts.databaseUrl, basePath: opts.basePath, logLevel: opts.logLevel },
      opts.config,
    );
  });

program
  .command("migrate")
  .description("apply pending store migrations and exit")
  .option("--database-url <url>", "sqlite:PATH or postgres://… (env DATABASE_URL)")
  .action(async (opts: { databaseUrl?: string }) => {
    const config = loadConfig({ overrides: { databaseUrl: opts.databaseUrl } });
    const store = await openStore(config.databaseUrl);
    await store.close();
    process.stdout.write(`migrated ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//***@")}\n`);
  });

const hubUrl = (opts: { url?: string }) =>
  (opts.url ?? process.env.SWITCHBOARD_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`).replace(/\/+$/, "");
const apiBase = () => process.env.BASE_PATH ?? "/api";

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
      headers: { "content-type": "application/json" },
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
          headers: { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) },
        });
        if (!res.ok || !res.body) fail(`${res.status}: ${await res.text()}`);
        let buffer = "";
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) !== -1) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let data: string | undefined;
            let event: string | undefined;
            for (const line of frame.split("\n")) {
              if (line.startsWith("id: ")) lastId = line.slice(4);
              else if (line.startsWith("data: ")) data = line.slice(6);
              else if (line.startsWith("event: ")) event = line.slice(7);
            }
            if (data === undefined) continue;
            if (event) process.stderr.write(`${event}: ${data}\n`);
            else process.stdout.write(`${data}\n`);
          }
        }
        process.stderr.write("stream ended; reconnecting\n");
      } catch (error) {
        process.stderr.write(`stream error: ${(error as Error).message}; reconnecting\n`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
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
