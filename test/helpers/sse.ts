import { connect, type Socket } from "node:net";
import { StringDecoder } from "node:string_decoder";
import { SseParser } from "../../src/client/sse-parser.js";

/** One SSE block (the lines up to a blank line), as the shared {@link SseParser} reads it. */
export interface SseFrame {
  id?: string;
  event?: string;
  /** Data lines joined with `\n`; absent when the block has none. */
  data?: string;
  retry?: string;
  /** Comment lines without the leading `:` (and one space). */
  comments: string[];
  /** The block's lines as received, joined with `\n`, without the terminating blank line. */
  raw: string;
}

/** Options of {@link openSse}. */
export interface OpenSseOptions {
  /** Extra request headers (e.g. `last-event-id`). */
  headers?: Record<string, string>;
  /** Time a wait may take before it fails with what was received so far. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * An HTTP/1.1 GET over a raw TCP socket that reads the reply as the bytes arrive: the status line and headers as
 * soon as they come, then the body (de-chunked) as text, parsed into SSE frames. Nothing in between buffers or
 * reinterprets the stream, so tests can assert the exact bytes.
 */
export class SseConnection {
  readonly socket: Socket;
  /** Status code; set once {@link head} resolved. */
  status = 0;
  /** Response headers, names lower-cased; set once {@link head} resolved. */
  headers: Record<string, string> = {};
  /** The body as text so far (for SSE: the event stream exactly as the hub wrote it). */
  text = "";
  /** Resolves when the status line and headers have arrived. */
  readonly head: Promise<void>;
  /** Resolves when the socket has closed (for whatever reason). */
  readonly closed: Promise<void>;
  /** True once the body ended cleanly (last chunk, or content-length reached). */
  bodyEnded = false;

  private readonly timeoutMs: number;
  private pending: Buffer = Buffer.alloc(0);
  private phase: "head" | "chunk-size" | "chunk-data" | "chunk-crlf" | "length" | "until-close" | "done" = "head";
  private remaining = 0;
  private readonly decoder = new StringDecoder("utf8");
  private readonly blocks: SseFrame[] = [];
  private readonly parser = new SseParser({
    comments: true,
    raw: true,
    onBlock: (b) => {
      const frame: SseFrame = { comments: b.comments ?? [], raw: b.raw ?? "" };
      if (b.id !== undefined) frame.id = b.id;
      if (b.event !== undefined) frame.event = b.event;
      if (b.data !== undefined) frame.data = b.data;
      if (b.retry !== undefined) frame.retry = String(b.retry);
      this.blocks.push(frame);
    },
  });
  private readonly waiters = new Set<() => void>();
  private isClosed = false;
  private resolveHead!: () => void;
  private rejectHead!: (error: Error) => void;

  constructor(url: string, path: string, options: OpenSseOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { hostname, port } = new URL(url);
    this.head = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    this.head.catch(() => {}); // observed through waits; never an unhandled rejection
    this.socket = connect({ host: hostname, port: Number(port) });
    this.closed = new Promise((resolve) => {
      this.socket.on("close", () => {
        this.isClosed = true;
        this.rejectHead(new Error(`socket closed before the response head; received: ${JSON.stringify(this.pending.toString())}`));
        this.notify();
        resolve();
      });
    });
    this.socket.on("error", () => {}); // a reset is a close as far as the tests are concerned
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const headerLines = Object.entries({ accept: "text/event-stream", ...options.headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    this.socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${headerLines}\r\n`);
  }

  /** Every complete block received so far. */
  frames(): SseFrame[] {
    return this.blocks.slice();
  }

  /** Complete blocks that carry data (events, including `event: switchboard.reset`). */
  events(): SseFrame[] {
    return this.frames().filter((f) => f.data !== undefined);
  }

  /** The body parsed as JSON (for error replies). */
  json(): any {
    return JSON.parse(this.text);
  }

  /** Resolves with all events received once there are at least `n`; rejects on timeout or close. */
  waitForEvents(n: number, timeoutMs = this.timeoutMs): Promise<SseFrame[]> {
    return this.waitUntil(
      `${n} events`,
      () => {
        const events = this.events();
        return events.length >= n ? events : undefined;
      },
      timeoutMs,
    );
  }

  /** Resolves once the body text contains `needle`. */
  waitForText(needle: string, timeoutMs = this.timeoutMs): Promise<void> {
    return this.waitUntil(JSON.stringify(needle), () => (this.text.includes(needle) ? true : undefined), timeoutMs).then(() => {});
  }

  /** Resolves once `check` holds (it is run on every chunk received); rejects on timeout or close. */
  waitFor(what: string, check: () => boolean, timeoutMs = this.timeoutMs): Promise<void> {
    return this.waitUntil(what, () => (check() ? true : undefined), timeoutMs).then(() => {});
  }

  /** Resolves once the socket closed; rejects if it stays open past the timeout. */
  waitForClose(timeoutMs = this.timeoutMs): Promise<void> {
    return this.waitUntil("the connection to close", () => (this.isClosed ? true : undefined), timeoutMs, true).then(() => {});
  }

  /** Resolves once the whole body arrived (content-length reached or the last chunk). */
  waitUntilBodyEnded(timeoutMs = this.timeoutMs): Promise<void> {
    return this.waitUntil("the end of the body", () => (this.bodyEnded ? true : undefined), timeoutMs).then(() => {});
  }

  /** Resolves once the response head arrived; rejects on timeout or close. */
  waitForHead(timeoutMs = this.timeoutMs): Promise<void> {
    return this.waitUntil("the response head", () => (this.phase !== "head" ? true : undefined), timeoutMs).then(() => {});
  }

  /** Stops reading from the socket: the kernel buffers fill and the hub sees a slow reader. */
  pause(): void {
    this.socket.pause();
  }

  /** Closes the connection at once. */
  close(): void {
    this.socket.destroy();
  }

  /** The text so far, shortened for an error message. */
  private excerpt(): string {
    const t = this.text;
    return JSON.stringify(t.length <= 600 ? t : `${t.slice(0, 300)}…(${t.length - 600} more characters)…${t.slice(-300)}`);
  }

  private waitUntil<T>(what: string, check: () => T | undefined, timeoutMs: number, closeOk = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.isClosed && !closeOk) {
          done();
          reject(new Error(`connection closed while waiting for ${what}; received so far: ${this.excerpt()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; received so far: ${this.excerpt()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.parse();
    this.notify();
  }

  private parse(): void {
    for (;;) {
      switch (this.phase) {
        case "head": {
          const end = this.pending.indexOf("\r\n\r\n");
          if (end === -1) return;
          const lines = this.pending.subarray(0, end).toString("latin1").split("\r\n");
          this.pending = this.pending.subarray(end + 4);
          this.status = Number(lines[0]!.split(" ")[1]);
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(":");
            this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          if ((this.headers["transfer-encoding"] ?? "").toLowerCase() === "chunked") this.phase = "chunk-size";
          else if (this.headers["content-length"] !== undefined) {
            this.remaining = Number(this.headers["content-length"]);
            this.phase = this.remaining === 0 ? "done" : "length";
            if (this.remaining === 0) this.bodyEnded = true;
          } else this.phase = "until-close";
          this.resolveHead();
          break;
        }
        case "chunk-size": {
          const end = this.pending.indexOf("\r\n");
          if (end === -1) return;
          this.remaining = parseInt(this.pending.subarray(0, end).toString("latin1").split(";")[0]!, 16);
          this.pending = this.pending.subarray(end + 2);
          if (this.remaining === 0) {
            this.phase = "done";
            this.bodyEnded = true;
            return;
          }
          this.phase = "chunk-data";
          break;
        }
        case "chunk-data":
        case "length":
        case "until-close": {
          if (this.pending.length === 0) return;
          const take = this.phase === "until-close" ? this.pending.length : Math.min(this.remaining, this.pending.length);
          const body = this.pending.subarray(0, take);
          this.text += this.decoder.write(body);
          this.parser.push(body);
          this.pending = this.pending.subarray(take);
          if (this.phase === "until-close") return;
          this.remaining -= take;
          if (this.remaining > 0) return;
          if (this.phase === "length") {
            this.phase = "done";
            this.bodyEnded = true;
            return;
          }
          this.phase = "chunk-crlf";
          break;
        }
        case "chunk-crlf": {
          if (this.pending.length < 2) return;
          this.pending = this.pending.subarray(2);
          this.phase = "chunk-size";
          break;
        }
        case "done":
          return;
      }
    }
  }
}

/** Opens an SSE request (`accept: text/event-stream`) on a raw socket. Close it with `close()`. */
export function openSse(url: string, path: string, options: OpenSseOptions = {}): SseConnection {
  return new SseConnection(url, path, options);
}

/** Opens an SSE stream and waits until its head and the hub's opening `retry:` block have arrived. */
export async function openLiveSse(url: string, path: string, options: OpenSseOptions = {}): Promise<SseConnection> {
  const conn = openSse(url, path, options);
  try {
    await conn.waitForHead();
    if (conn.status !== 200) throw new Error(`stream answered ${conn.status}: ${conn.text}`);
    await conn.waitForText("\n\n");
  } catch (error) {
    conn.close();
    throw error;
  }
  return conn;
}
