#!/usr/bin/env node
import { Command } from "commander";
import { createApiKey, listApiKeys, revokeApiKey } from "../auth/api-keys.js";
import { apiKeyOut } from "../api/wire/keys.js";
import { configFlags, loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { openStore } from "../store/index.js";
import { collect, registerEventCommands, registerTransferCommands } from "./hub-commands.js";
import { registerDeliveryCommands, registerSubscriptionCommands } from "./subscription-commands.js";

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
    const { openStore } = await import("../store/index.js");
    const store = await openStore(config.databaseUrl, { pgPartitionSize: config.pgPartitionSize });
    await store.close();
    process.stdout.write(`migrated ${config.databaseUrl.replace(/\/\/[^@/]*@/, "//***@")}\n`);
  });

registerEventCommands(program);
registerTransferCommands(program);
registerSubscriptionCommands(program);
registerDeliveryCommands(program);

const keys = program
  .command("keys")
  .description("manage API keys directly in the store named by DATABASE_URL (no hub needed: this is how the first admin key is made)");

/** Opens the store, runs `fn`, closes the store. */
async function withStore<T>(databaseUrl: string | undefined, fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const config = loadConfig({ overrides: { databaseUrl } });
  // Loaded here: the database drivers cost the commands that only call a hub their start-up time otherwise.
  const { openStore } = await import("../store/index.js");
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

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`switchboard: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`switchboard: ${(error as Error).message}\n`);
  process.exit(1);
});
