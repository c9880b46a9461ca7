import { request as httpRequestRaw, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";

/** A reply read whole by {@link httpRequest}. */
export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON when it is JSON. */
  body: any;
}

/** Options of {@link httpRequest}. */
export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Local address to connect from (any of 127.0.0.0/8 reaches a hub on 127.0.0.1): another client, as the hub sees it. */
  localAddress?: string;
}

/**
 * One request through `node:http`, which (unlike `fetch`) sends any header, `Origin` included, and can pick the
 * local address.
 */
export function httpRequest(url: string, path: string, options: HttpRequestOptions = {}): Promise<HttpReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequestRaw(
      { host: hostname, port: Number(port), path, method: options.method ?? "GET", headers: options.headers, localAddress: options.localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const json = (res.headers["content-type"] ?? "").includes("json") && text !== "";
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: json ? JSON.parse(text) : undefined });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** What {@link rawExchange} saw. */
export interface RawExchange {
  /** Status of the first response, or 0 when the hub closed the connection (or the wait timed out) without one. */
  status: number;
  /** Statuses of every response on the connection (a request may be followed by bytes the hub reads as another). */
  statuses: number[];
  /** Everything received, as latin1. */
  text: string;
  timedOut: boolean;
}

/**
 * Writes `bytes` on a fresh TCP connection exactly as given (so they may be malformed HTTP), optionally half-closes,
 * and reads until the hub closes the connection. A `text/event-stream` reply is cut once its head is in.
 */
export function rawExchange(url: string, bytes: Buffer | string, options: { end?: boolean; timeoutMs?: number } = {}): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let text = "";
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ status: statuses[0] ?? 0, statuses, text, timedOut });
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs ?? 5_000);
    socket.setEncoding("latin1");
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(false));
    socket.on("data", (chunk: string) => {
      text += chunk;
      const headEnd = text.indexOf("\r\n\r\n");
      if (headEnd !== -1 && /\r\ncontent-type: text\/event-stream/i.test(text.slice(0, headEnd))) finish(false);
    });
    socket.on("connect", () => {
      socket.write(bytes);
      if (options.end) socket.end();
    });
  });
}
