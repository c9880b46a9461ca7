import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { Socket } from "node:net";

/**
 * An open SSE stream keeps its connection for hours, but Node's HTTP server keeps, for every connection, what it needs
 * to parse the next request on it: an HTTP parser (about 1.5 KiB of native memory), the request and response objects,
 * their headers and a dozen bound listeners. A stream's client sends nothing after its GET, so none of it is used.
 * Measured with 10,000 idle streams on a bare `node:http` server: about 10.5 KiB of RSS per stream as Node leaves
 * it, 4.3 KiB once its connection is taken over as below.
 *
 * This takes the connection from the HTTP server the way Node itself does for an `Upgrade` request (see
 * `onParserExecuteCommon` in Node's `_http_server`): its listeners are removed and its parser freed, and the stream
 * then writes the chunked body itself. That reads some of Node's internals (listener names, `_http_common`'s
 * `freeParser`, `socket.parser`): when anything is not as expected, nothing is changed and the stream stays on its
 * response.
 */

interface NodeParser {
  incoming: IncomingMessage | null;
}

type FreeParser = (parser: NodeParser, req: IncomingMessage | null, socket: Socket) => void;

const freeParser = ((): FreeParser | undefined => {
  try {
    const common = createRequire(import.meta.url)("_http_common") as { freeParser?: unknown };
    return typeof common.freeParser === "function" ? (common.freeParser as FreeParser) : undefined;
  } catch {
    return undefined;
  }
})();

/** Node's listeners on a server connection (`connectionListenerInternal`), by event and function name. */
const NODE_LISTENERS: Record<string, string> = {
  data: "bound socketOnData",
  end: "bound socketOnEnd",
  close: "bound socketOnClose",
  drain: "bound socketOnDrain",
  error: "socketOnError",
  timeout: "socketOnTimeout",
  resume: "onSocketResume",
  pause: "onSocketPause",
};
/** The ones every connection has: without all four, this is not the server this was written for. */
const REQUIRED = ["data", "end", "close", "drain"];

type ServerSocket = Socket & { parser?: NodeParser | null; _httpMessage?: unknown };
type StreamResponse = ServerResponse & { chunkedEncoding?: boolean; detachSocket?: (socket: Socket) => void };

/**
 * Takes a stream's connection from Node's HTTP server once its head has gone out; returns the socket, on which the
 * caller writes the rest of the chunked body itself (see {@link chunkOf}), or undefined when it stays on `res`.
 * The response's `close` listeners move to the socket's `close` (called with the socket as `this`), so whoever
 * counted the stream still sees it end. Call it after the request's handler has returned (Node's parser, still
 * running beneath the handler, would register the connection again).
 */
export function detachStreamSocket(res: ServerResponse): Socket | undefined {
  const response = res as StreamResponse;
  const socket = res.socket as ServerSocket | null;
  const parser = socket?.parser;
  if (!freeParser || !socket || !parser || socket.destroyed || !socket.writable) return undefined;
  // A GET whose body is chunked by Node, fully read, with no request after it on the connection (a pipelined one
  // would have been parsed already: its response would wait behind this one).
  if (res.req.method !== "GET" || !response.chunkedEncoding || !res.headersSent || res.writableEnded || !res.req.complete) return undefined;
  if (socket._httpMessage !== res || (parser.incoming !== res.req && parser.incoming !== null) || typeof response.detachSocket !== "function") return undefined;
  const found = new Map<string, (...args: unknown[]) => void>();
  for (const [event, name] of Object.entries(NODE_LISTENERS)) {
    const listener = socket.listeners(event).find((l) => l.name === name);
    if (listener) found.set(event, listener as (...args: unknown[]) => void);
  }
  if (!REQUIRED.every((event) => found.has(event))) return undefined;

  for (const [event, listener] of found) socket.removeListener(event, listener);
  freeParser(parser, res.req, socket);
  const closeListeners = res.listeners("close") as ((...args: unknown[]) => void)[];
  response.detachSocket(socket);
  for (const listener of closeListeners) socket.once("close", listener);
  // What Node did on these: an error closes the connection (no HTTP error reply: the head is long gone); the client
  // ending its side ends ours; bytes sent after the request are read and dropped.
  socket.on("error", destroySocket);
  socket.on("end", endSocket);
  socket.resume();
  return socket;
}

function destroySocket(this: Socket): void {
  this.destroy();
}

function endSocket(this: Socket): void {
  if (this.writable) this.end();
}

/**
 * `text` as one chunk of a chunked HTTP body, encoded once: the same bytes go to every stream that selected them
 * (a string would be encoded again on each socket's write).
 */
export function chunkOf(text: string): Buffer {
  return Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
}

const LAST_CHUNK = Buffer.from("0\r\n\r\n");

/** Writes `text` as the last chunk of the body, ends it, and closes the connection once that has been sent. */
export function endChunked(socket: Socket, text: string): void {
  if (socket.destroyed) return;
  socket.write(Buffer.concat([chunkOf(text), LAST_CHUNK]));
  socket.destroySoon();
}
