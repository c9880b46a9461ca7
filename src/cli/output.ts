import type { EventOut } from "../client/types.js";
import { SwitchboardError } from "../client/errors.js";

/** A stream the CLI writes to: stdout or stderr, or a test's stand-in. */
export interface OutStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
  once?(event: "drain", listener: () => void): unknown;
}

/** Options of {@link Output}. */
export interface OutputOptions {
  /** `--json`: JSON only, one value a line, on a TTY too. */
  json?: boolean;
  stdout?: OutStream;
  stderr?: OutStream;
  env?: Record<string, string | undefined>;
}

const CODES = { reset: 0, bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 } as const;
type Colour = keyof typeof CODES;

/**
 * How the CLI prints: JSON lines when stdout is not a TTY (or with `--json`), so scripts read what the hub answered;
 * on a TTY the same values pretty-printed, in colour unless `NO_COLOR` is set (https://no-color.org). Progress goes to
 * stderr, and only when stderr is a TTY.
 */
export class Output {
  readonly json: boolean;
  readonly colour: boolean;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  private readonly stderrColour: boolean;

  constructor(options: OutputOptions = {}) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    const env = options.env ?? process.env;
    const noColour = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
    this.json = options.json === true || this.stdout.isTTY !== true;
    this.colour = !this.json && !noColour;
    this.stderrColour = this.stderr.isTTY === true && !noColour && options.json !== true;
  }

  /** `text` in `colour` when colours are on for that stream. */
  paint(colour: Colour, text: string, stream: "stdout" | "stderr" = "stdout"): string {
    const on = stream === "stdout" ? this.colour : this.stderrColour;
    return on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
  }

  /** Prints a reply: a JSON line, or pretty JSON on a TTY. Waits when stdout is full. */
  async print(value: unknown): Promise<void> {
    await this.write(this.json ? `${JSON.stringify(value)}\n` : `${this.pretty(value, "")}\n`);
  }

  /** Prints one event: its envelope as a JSON line, or on a TTY `time topic id` and the data. */
  async printEvent(event: EventOut): Promise<void> {
    if (this.json) return this.write(`${JSON.stringify(event)}\n`);
    const head = [this.paint("gray", event.time), this.paint("cyan", event.topic), this.paint("dim", event.id)];
    if (event.type) head.push(this.paint("magenta", event.type));
    if (event.key) head.push(this.paint("yellow", `key=${event.key}`));
    await this.write(`${head.join(" ")} ${this.pretty(event.data, "", true)}\n`);
  }

  /** A line for people on stderr (notices, hints). */
  note(text: string): void {
    this.stderr.write(`${this.paint("dim", text, "stderr")}\n`);
  }

  /** Prints an error to stderr: the hub's `{error, details, code}` (and status) as JSON, or a line in red on a TTY. */
  error(error: unknown): void {
    if (error instanceof SwitchboardError) {
      const body = { error: error.title, details: error.details, code: error.code, status: error.status };
      this.stderr.write(
        this.stderrColour ? `${this.paint("red", `${error.code}`, "stderr")} (${error.status}) ${error.details}\n` : `${JSON.stringify(body)}\n`,
      );
      return;
    }
    this.stderr.write(`${this.paint("red", "switchboard:", "stderr")} ${(error as Error).message ?? String(error)}\n`);
  }

  /** A progress bar on stderr (nothing when stderr is not a TTY); `total` undefined shows a count. */
  progress(label: string, total?: number, unit = ""): Progress {
    return new Progress(this, label, this.stderr.isTTY === true ? total : undefined, this.stderr.isTTY === true, unit);
  }

  /** Writes to stdout, waiting for `drain` when the pipe is full (an export of millions of lines). */
  write(text: string): Promise<void> {
    if (this.stdout.write(text) || !this.stdout.once) return Promise.resolve();
    return new Promise((resolve) => this.stdout.once!("drain", resolve));
  }

  private pretty(value: unknown, indent: string, compact = false): string {
    if (value === null) return this.paint("gray", "null");
    if (typeof value === "string") return this.paint("green", JSON.stringify(value));
    if (typeof value === "number" || typeof value === "boolean") return this.paint("yellow", String(value));
    const inner = compact ? "" : `${indent}  `;
    const nl = compact ? "" : "\n";
    const sep = compact ? ", " : ",\n";
    if (Array.isArray(value)) {
      if (value.length === 0) return "[]";
      return `[${nl}${value.map((v) => inner + this.pretty(v, inner, compact)).join(sep)}${nl}${compact ? "" : indent}]`;
    }
    if (typeof value === "object") {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) return "{}";
      const lines = entries.map(([k, v]) => `${inner}${this.paint("cyan", JSON.stringify(k))}: ${this.pretty(v, inner, compact)}`);
      return `{${nl}${lines.join(sep)}${nl}${compact ? "" : indent}}`;
    }
    return String(value);
  }
}

/** A one-line progress bar redrawn in place with `\r`; silent when stderr is not a TTY. */
export class Progress {
  private done = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: Output,
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly enabled: boolean,
    private readonly unit: string,
  ) {}

  /** Sets how much is done (and draws, at most every 100 ms). */
  update(done: number, force = false): void {
    this.done = done;
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.out.stderr.write(`\r${this.line()}\x1b[K`);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.enabled) return;
    this.update(this.total ?? this.done, true);
    this.out.stderr.write("\n");
  }

  /** The bar's text: `label [#####-----]  50% 500/1000`, or `label 500` without a total. */
  line(): string {
    if (this.total === undefined || this.total <= 0) return `${this.label} ${this.done}${this.unit}`;
    const width = Math.max(10, Math.min(40, (this.out.stderr.columns ?? 80) - this.label.length - 30));
    const ratio = Math.min(1, this.done / this.total);
    const filled = Math.round(ratio * width);
    const bar = this.out.paint("green", "#".repeat(filled), "stderr") + this.out.paint("gray", "-".repeat(width - filled), "stderr");
    return `${this.label} [${bar}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${this.done}/${this.total}${this.unit}`;
  }
}
