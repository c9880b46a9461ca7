import type { Command } from "commander";
import type { Switchboard } from "../client/switchboard.js";
import { action, clientFor, collect, hubCommand, timeArg, type HubOptions } from "./hub-commands.js";
import type { Output } from "./output.js";

/** `subscriptions …`: the hub's replies printed as they are (JSON lines when piped). */
export function registerSubscriptionCommands(program: Command): void {
  const subscriptions = program.command("subscriptions").description("manage webhook subscriptions (prints the hub's JSON)");

  hubCommand(subscriptions.command("list").description("list every subscription")).action(
    action(async (out, opts: HubOptions) => out.print({ data: await clientFor(opts).subscriptions.list() })),
  );

  hubCommand(subscriptions.command("get").description("show one subscription"))
    .argument("<id>", "subscription id (sub_…)")
    .action(action(async (out, id: string, opts: HubOptions) => out.print(await clientFor(opts).subscriptions.get(id))));

  registerCreate(subscriptions);

  hubCommand(subscriptions.command("delete").description("delete a subscription and its deliveries"))
    .argument("<id>", "subscription id")
    .action(
      action(async (out, id: string, opts: HubOptions) => {
        await clientFor(opts).subscriptions.delete(id);
        await out.print({ deleted: id });
      }),
    );

  for (const [name, description] of [
    ["pause", "stop delivering (events keep being stored; resume picks up where it left off)"],
    ["resume", "deliver again; clears a disabled state"],
  ] as const) {
    hubCommand(subscriptions.command(name).description(description))
      .argument("<id>", "subscription id")
      .action(action(async (out, id: string, opts: HubOptions) => out.print(await clientFor(opts).subscriptions[name](id))));
  }

  hubCommand(subscriptions.command("retry").description("send the subscription's dead deliveries again (those created in [--from, --to) when given)"))
    .argument("<id>", "subscription id")
    .option("--from <time>", "ISO 8601 time or epoch ms")
    .option("--to <time>", "ISO 8601 time or epoch ms")
    .action(
      action(async (out, id: string, opts: HubOptions & { from?: string; to?: string }) =>
        out.print(await clientFor(opts).subscriptions.retryDead(id, { from: timeArg(opts.from), to: timeArg(opts.to) })),
      ),
    );
}

/** `subscriptions create`: here --url is the destination and --hub the hub. */
function registerCreate(subscriptions: Command): void {
  hubCommand(
    subscriptions
      .command("create")
      .description("create a subscription; prints it with its signing secret (here --url is the destination, --hub the hub)")
      .requiredOption("--topic <topic>", "topic name or pattern such as orders.*")
      .requiredOption("--url <url>", "where the events go: a webhook URL (POSTed to), or a broker url such as nats://host:4222/<subject>")
      .option("--filter <cel>", "CEL filter")
      .option("--header <name=value>", "extra request header (repeatable)", collect)
      .option("--ordering <mode>", "none or key (one delivery in flight per event key)")
      .option("--body <shape>", "data (the event's data, default) or envelope")
      .option("--start <where>", "now (default), beginning, or a time"),
    "--hub <url>",
  ).action(
    action(
      async (
        out,
        opts: {
          hub?: string;
          json?: boolean;
          topic: string;
          url: string;
          filter?: string;
          header?: string[];
          ordering?: string;
          body?: string;
          start?: string;
        },
      ) => {
        const headers: Record<string, string> = {};
        for (const h of opts.header ?? []) {
          const eq = h.indexOf("=");
          if (eq <= 0) throw new Error(`--header must look like name=value, got ${JSON.stringify(h)}`);
          headers[h.slice(0, eq)] = h.slice(eq + 1);
        }
        const created = await clientFor({ url: opts.hub }).subscriptions.create({
          topic: opts.topic,
          url: opts.url,
          filter: opts.filter,
          headers: opts.header ? headers : undefined,
          ordering: opts.ordering as "none" | "key" | undefined,
          body: opts.body as "data" | "envelope" | undefined,
          start: opts.start,
        });
        await out.print(created);
      },
    ),
  );
}

/** `replay` and `deliveries`. */
export function registerDeliveryCommands(program: Command): void {
  hubCommand(program.command("replay").description("deliver again the stored events with time in [--from, --to) that the subscription selects"))
    .argument("<subscription-id>", "subscription id")
    .requiredOption("--from <time>", "ISO 8601 time or epoch ms")
    .option("--to <time>", "ISO 8601 time or epoch ms (default: now)")
    .action(action(async (out, id: string, opts: HubOptions & { from: string; to?: string }) => out.print(await replay(out, clientFor(opts), id, opts))));

  hubCommand(program.command("deliveries").description("list webhook deliveries, newest first (one page; --cursor for the next)"))
    .option("--subscription <id>", "only this subscription's")
    .option("--event <id>", "only this event's")
    .option("--status <status>", "pending, retrying, delivered or dead")
    .option("--limit <n>", "page size, 1 to 1000 (default 100)", (v) => Number(v))
    .option("--cursor <id>", "next_cursor of the previous page")
    .action(
      action(async (out, opts: HubOptions & { subscription?: string; event?: string; status?: string; limit?: number; cursor?: string }) => {
        const { subscription, event, status, limit, cursor } = opts;
        await out.print(await clientFor(opts).deliveries.page({ subscription, event, status, limit, cursor }));
      }),
    );
}

/** Slices of a replay when progress is shown: the range in this many parts, one request each. */
const REPLAY_SLICES = 20;

/**
 * A replay. On a terminal, with a range the CLI can read, it goes as {@link REPLAY_SLICES} consecutive `[from, to)`
 * slices with a progress bar; the slices together select what the whole range does, so the result is the same.
 */
async function replay(out: Output, sb: Switchboard, id: string, opts: { from: string; to?: string }): Promise<{ replayed: number }> {
  const from = timeOf(opts.from);
  const to = opts.to === undefined ? Date.now() : timeOf(opts.to);
  if (!process.stderr.isTTY || from === undefined || to === undefined || to <= from) {
    return sb.deliveries.replay(id, { from: timeArg(opts.from), to: timeArg(opts.to) });
  }
  const progress = out.progress("replay", REPLAY_SLICES, " slices");
  let replayed = 0;
  for (let i = 0; i < REPLAY_SLICES; i++) {
    const start = from + Math.floor(((to - from) * i) / REPLAY_SLICES);
    const end = i === REPLAY_SLICES - 1 ? to : from + Math.floor(((to - from) * (i + 1)) / REPLAY_SLICES);
    replayed += (await sb.deliveries.replay(id, { from: start, to: end })).replayed;
    progress.update(i + 1);
  }
  progress.finish();
  return { replayed };
}

/** Epoch ms of an ISO 8601 time, a date, or epoch ms; undefined for what the hub reads and the CLI does not. */
function timeOf(value: string): number | undefined {
  if (/^\d{13}$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
