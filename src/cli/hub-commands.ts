import type { Command } from "commander";
import { fstatSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { Switchboard } from "../client/switchboard.js";
import type { EventOut, TimeArg } from "../client/types.js";
import { Output } from "./output.js";

/** Options every command that calls a hub takes. */
export interface HubOptions {
  url?: string;
  json?: boolean;
}

/** The hub's url: `--url`, else SWITCHBOARD_URL, else the local default port. */
export const hubUrl = (opts: HubOptions): string => opts.url ?? process.env.SWITCHBOARD_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;

/** The SDK for `opts`: the token in SWITCHBOARD_TOKEN (an API key or a JWT), the hub's BASE_PATH. */
export function clientFor(opts: HubOptions): Switchboard {
  return new Switchboard({ url: hubUrl(opts), token: process.env.SWITCHBOARD_TOKEN || undefined, basePath: process.env.BASE_PATH ?? "/api" });
}

/** Adds `--url` and `--json` to a command that calls a hub. */
export function hubCommand(command: Command, urlFlag = "-u, --url <url>"): Command {
  return command
    .option(urlFlag, "hub URL (env SWITCHBOARD_URL, default http://127.0.0.1:$PORT)")
    .option("--json", "print JSON (one value a line) even on a terminal");
}

/**
 * Runs a command's body with its {@link Output}; an error (the hub's, or the hub out of reach) is printed to stderr
 * and exits 1.
 */
export function action<A extends unknown[]>(fn: (out: Output, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const opts = args.find((a, i) => i === args.length - 2 && typeof a === "object") as HubOptions | undefined;
    const out = new Output({ json: opts?.json });
    try {
      await fn(out, ...args);
    } catch (error) {
      out.error(error);
      process.exit(1);
    }
  };
}

/** `publish` and `tail`. */
export function registerEventCommands(program: Command): void {
  hubCommand(program.command("publish").description("publish one event; <json> is the data (use - to read it from stdin)"))
    .argument("<topic>", "topic name")
    .argument("<json>", "the event's data as JSON, or - for stdin")
    .option("-t, --type <type>", "event type")
    .option("-k, --key <key>", "ordering key")
    .option("-i, --id <id>", "event id (repeats are stored once)")
    .action(
      action(async (out, topic: string, json: string, opts: HubOptions & { type?: string; key?: string; id?: string }) => {
        const text = json === "-" ? await readStdin() : json;
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (error) {
          throw new Error(`<json> is not valid JSON: ${(error as Error).message}`);
        }
        await out.print(await clientFor(opts).publish(topic, data, { type: opts.type, key: opts.key, id: opts.id }));
      }),
    );

  hubCommand(program.command("tail").description("print a topic's live events (JSON lines when piped; Ctrl-C to stop)"))
    .argument("[topic]", "topic name or pattern such as orders.*; all topics when absent")
    .option("-f, --filter <cel>", "CEL filter")
    .option("--from <id>", "replay stored events after this id first")
    .action(
      action(async (out, topic: string | undefined, opts: HubOptions & { filter?: string; from?: string }) => {
        const stream = clientFor(opts).stream({
          topics: topic ? [topic] : [],
          filter: opts.filter,
          lastEventId: opts.from,
          reconnectDelayMs: 1000,
          maxReconnectDelayMs: 5000,
          onReconnect: ({ error }) => out.note(error ? `stream error: ${(error as Error).message}; reconnecting` : "stream ended; reconnecting"),
          onReset: (reset) => out.note(`switchboard.reset: ${reset.details}`),
        });
        for await (const event of stream) await out.printEvent(event);
      }),
    );
}

/** `export` and `import`: NDJSON backups and moves, with progress on a terminal. */
export function registerTransferCommands(program: Command): void {
  hubCommand(program.command("export").description("write the stored events, oldest first, as NDJSON (one envelope a line) to stdout"))
    .option("--topic <topic>", "topic name or pattern (repeatable; default every topic)", collect)
    .option("--from <time>", "events at or after this time (ISO 8601, a date, or epoch ms)")
    .option("--to <time>", "events before this time")
    .option("--filter <cel>", "CEL filter")
    .option("--page-size <n>", "events per request, 1 to 1000 (default 1000)", (v) => Number(v))
    .action(
      action(async (out, opts: HubOptions & { topic?: string[]; from?: string; to?: string; filter?: string; pageSize?: number }) => {
        const sb = clientFor(opts);
        const total = await exportTotal(sb, opts);
        const progress = out.progress("export", total, " events");
        let count = 0;
        for await (const event of sb.events.search({
          topic: opts.topic,
          from: timeArg(opts.from),
          to: timeArg(opts.to),
          filter: opts.filter,
          limit: opts.pageSize ?? 1000,
        })) {
          await out.write(`${JSON.stringify(event)}\n`);
          progress.update(++count);
        }
        progress.finish();
        out.note(`exported ${count} events`);
      }),
    );

  hubCommand(program.command("import").description("store the events of an NDJSON export read from stdin, with their ids; ids stored already are skipped"))
    .option("--batch-size <n>", "events per request (default 500)", (v) => Number(v))
    .action(
      action(async (out, opts: HubOptions & { batchSize?: number }) => {
        const size = stdinFileSize();
        const progress = out.progress("import", size, size === undefined ? " events" : " bytes");
        const reader = ndjsonLines(process.stdin);
        const result = await clientFor(opts).events.import(reader.events, {
          batchSize: opts.batchSize,
          onProgress: ({ sent }) => progress.update(size === undefined ? sent : reader.bytes),
        });
        progress.finish();
        await out.print(result);
      }),
    );
}

/** How many events an export will write, when the hub can say cheaply: one topic named exactly, no range nor filter. */
async function exportTotal(sb: Switchboard, opts: { topic?: string[]; from?: string; to?: string; filter?: string }): Promise<number | undefined> {
  if (!process.stderr.isTTY || opts.topic?.length !== 1 || /[*>]/.test(opts.topic[0]!) || opts.from || opts.to || opts.filter) return undefined;
  return sb.topics.get(opts.topic[0]!).then(
    (t) => t.event_count,
    () => undefined,
  );
}

/** The size of stdin when it is a file (`< events.ndjson`): the import's progress is then in bytes. */
function stdinFileSize(): number | undefined {
  try {
    const stat = fstatSync(0);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

/** NDJSON events from a byte stream, one JSON value a line (blank lines skipped), and the bytes read so far. */
export function ndjsonLines(input: AsyncIterable<Buffer | string>): { events: AsyncIterable<EventOut>; readonly bytes: number } {
  const state = { bytes: 0 };
  async function* events(): AsyncGenerator<EventOut> {
    const decoder = new StringDecoder("utf8");
    let carry = "";
    let line = 0;
    const parse = (text: string) => {
      line++;
      try {
        return JSON.parse(text) as EventOut; // the hub checks each event
      } catch (error) {
        throw new Error(`line ${line} is not JSON: ${(error as Error).message}`);
      }
    };
    for await (const chunk of input) {
      state.bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
      const lines = (carry + (typeof chunk === "string" ? chunk : decoder.write(chunk))).split("\n");
      carry = lines.pop()!;
      for (const text of lines) {
        if (text.trim() === "") line++;
        else yield parse(text);
      }
    }
    if (carry.trim() !== "") yield parse(carry);
  }
  return {
    events: events(),
    get bytes() {
      return state.bytes;
    },
  };
}

/** `--from`/`--to` as the API takes them: epoch ms stay numbers. */
export function timeArg(value: string | undefined): TimeArg | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : value;
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text;
}
