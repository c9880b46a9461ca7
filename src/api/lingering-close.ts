import type { Socket } from "node:net";

/**
 * Lingering close, as nginx does it: a refused request the hub has not read in full (a body over the limit, a URL or
 * headers too long) is answered with `connection: close`, and the rest of it is then read and discarded, up to
 * `maxBytes` and `maxMs`, before the socket is closed. Closing at once, with the client's bytes still unread, makes
 * the kernel send a reset, and a client still writing its body then gets EPIPE or ECONNRESET instead of the status
 * that was already on its way.
 */

/** Bounds of one lingering close. */
export interface LingerOptions {
  /** Most bytes read and discarded after the reply; past them the socket is destroyed. */
  maxBytes: number;
  /** Most time spent reading them, in ms. */
  maxMs: number;
}

const lingering = new WeakSet<Socket>();

/** Whether `socket` is being drained by {@link lingerThenClose}: errors its parser raises now are not the client's to see. */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/**
 * Ends the write side of `socket` (after whatever was written, the reply), then reads and discards what the client
 * still sends until it closes its side or a bound is reached, and destroys the socket.
 */
export function lingerThenClose(socket: Socket, options: LingerOptions): void {
  if (socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  let read = 0;
  const close = () => socket.destroy();
  const timer = setTimeout(close, options.maxMs);
  timer.unref();
  takeFromHttpParser(socket, (chunk) => {
    read += chunk.length;
    if (read > options.maxBytes) close();
  });
  socket.once("end", close);
  socket.once("close", () => clearTimeout(timer));
  socket.end();
  socket.resume();
}

/** A socket's libuv handle, as Node's own HTTP server drives it. */
interface StreamHandle {
  reading?: boolean;
  readStart?: () => number;
}

/**
 * Detaches Node's HTTP parser from a server socket, so that what follows the reply reaches only the caller's 'data'
 * listener. Node 20 lets the parser read the socket's handle directly, and stops that read once a request body nobody
 * consumes fills its buffer; the socket's own stream then still thinks a read is pending, and `resume()` alone reads
 * nothing more (measured: 64 KiB of a 5 MB body, then EPIPE at the client). Left attached, the parser would also take
 * the discarded bytes for a next request and fail on them. So: its 'data' feed is removed, `onData` added (the
 * server's wrapped `on` then takes the handle back from the parser), and the handle is started again.
 */
function takeFromHttpParser(socket: Socket, onData: (chunk: Buffer | string) => void): void {
  socket.removeAllListeners("data");
  socket.on("data", onData);
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (handle && handle.reading === false && typeof handle.readStart === "function") {
    handle.reading = true;
    handle.readStart();
  }
}

/**
 * Makes Node's own close of `socket` after a `connection: close` reply (it calls `destroySoon()` once the reply is
 * written) a lingering one.
 */
export function lingerOnClose(socket: Socket, options: LingerOptions): void {
  socket.destroySoon = () => lingerThenClose(socket, options);
}
