import { connect, type Socket } from "node:net";
import { SseParser, type SseBlock } from "../../src/client/sse-parser.js";

/** Options of {@link openSseSocket}. */
export interface SseSocketOptions {
  host: string;
  port: number;
  path: string;
  /**
   * Called with the `data:` of every frame and the time (performance.now()) its bytes were read. Without it the
   * socket only counts bytes once connected: a cheap drain for load that nobody measures.
   */
  onData?: (data: string, at: number) => void;
  /** Give up on the connection if the preamble has not arrived by then. */
  timeoutMs?: number;
}

const enum Chunk {
  Size,
  Data,
  Crlf,
  End,
}

/**
 * One SSE stream read off a raw socket: an HTTP/1.1 GET, the chunked body decoded and fed as bytes to the shared
 * {@link SseParser}. Lighter than an HTTP client, so 10,000 of them fit in one process.
 */
export class SseSocket {
  readonly socket: Socket;
  /** Bytes received, headers included. */
  bytes = 0;
  /** When (performance.now()) the TCP connection was established, and when the response headers had all been read. */
  connectedAt: number | undefined;
  headersAt: number | undefined;
  private readonly onData?: (data: string, at: number) => void;
  private header: Buffer | undefined = Buffer.alloc(0);
  private chunked = false;
  private chunkState = Chunk.Size;
  private chunkLeft = 0;
  private sizeLine = "";
  private readonly parser = new SseParser({ onBlock: (block) => this.block(block) });
  /** When the bytes being parsed were read. */
  private at = 0;
  private connected = false;
  private readonly ready: { resolve: () => void; reject: (e: Error) => void };
  readonly opened: Promise<void>;

  constructor(options: SseSocketOptions) {
    this.onData = options.onData;
    let ready!: SseSocket["ready"];
    this.opened = new Promise<void>((resolve, reject) => (ready = { resolve, reject }));
    this.ready = ready;
    const socket = connect({ host: options.host, port: options.port, noDelay: true });
    this.socket = socket;
    const timer = setTimeout(() => this.fail(new Error(`no SSE preamble within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    void this.opened.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    socket.once("connect", () => (this.connectedAt = performance.now()));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("the stream closed")));
    socket.on("data", (buf: Buffer) => this.receive(buf));
    socket.write(`GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nAccept: text/event-stream\r\n\r\n`);
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(error: Error): void {
    if (!this.connected) this.ready.reject(error);
  }

  private receive(buf: Buffer): void {
    const at = performance.now();
    this.at = at;
    this.bytes += buf.length;
    if (this.header) {
      const all = this.header.length ? Buffer.concat([this.header, buf]) : buf;
      const end = all.indexOf("\r\n\r\n");
      if (end === -1) {
        if (all.length > 16_384) this.fail(new Error("response headers too long"));
        this.header = all;
        return;
      }
      const head = all.toString("latin1", 0, end);
      this.header = undefined;
      this.headersAt = at;
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      if (status !== "200") {
        this.fail(new Error(`GET stream answered ${status}: ${all.toString("utf8", 0, Math.min(all.length, 300))}`));
        this.socket.destroy();
        return;
      }
      this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
      buf = all.subarray(end + 4);
    }
    if (this.connected && !this.onData) return;
    if (this.chunked) this.dechunk(buf);
    else this.parser.push(buf);
  }

  private dechunk(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.chunkState) {
        case Chunk.Size: {
          const nl = buf.indexOf(10, i);
          if (nl === -1) {
            this.sizeLine += buf.toString("latin1", i);
            return;
          }
          this.sizeLine += buf.toString("latin1", i, nl);
          i = nl + 1;
          const size = parseInt(this.sizeLine.split(";")[0]!.trim(), 16);
          this.sizeLine = "";
          if (!(size > 0)) {
            this.chunkState = Chunk.End;
            return;
          }
          this.chunkLeft = size;
          this.chunkState = Chunk.Data;
          break;
        }
        case Chunk.Data: {
          const n = Math.min(this.chunkLeft, buf.length - i);
          this.parser.push(buf.subarray(i, i + n));
          i += n;
          this.chunkLeft -= n;
          if (this.chunkLeft === 0) {
            this.chunkState = Chunk.Crlf;
            this.chunkLeft = 2;
          }
          break;
        }
        case Chunk.Crlf: {
          const n = Math.min(this.chunkLeft, buf.length - i);
          i += n;
          this.chunkLeft -= n;
          if (this.chunkLeft === 0) this.chunkState = Chunk.Size;
          break;
        }
        case Chunk.End:
          return;
      }
    }
  }

  private block(block: SseBlock): void {
    if (!this.connected) {
      // The first block is the hub's `retry:` + `: connected` preamble (the baseline sends the same).
      this.connected = true;
      this.ready.resolve();
    }
    if (this.onData && block.data !== undefined) this.onData(block.data, this.at);
  }
}

/** Opens a stream and resolves once its preamble has arrived. */
export async function openSseSocket(options: SseSocketOptions): Promise<SseSocket> {
  const s = new SseSocket(options);
  try {
    await s.opened;
  } catch (error) {
    s.close();
    throw error;
  }
  return s;
}
