/**
 * The one event-stream parser of Switchboard's clients (CLI `tail`, the tests' SSE helper, the bench readers, the
 * SDK to come), incremental and byte-level, per the WHATWG EventSource rules ("Interpreting an event stream"):
 * lines end in CRLF, LF or CR; a leading BOM is skipped; `:` starts a comment; `data`/`event`/`id`/`retry` are the
 * fields and others are ignored; one space after the colon is dropped; a blank line ends a block.
 *
 * It works on bytes and decodes only the values it keeps, a line at a time, so a character split across chunks
 * is never broken and a reader of thousands of streams pays for no copy of the text it skips.
 */

/** One block of the stream: the lines up to a blank line. Blocks with no line at all are not reported. */
export interface SseBlock {
  /** The `data:` lines joined with `\n`; undefined when there were none (the spec dispatches no event then). */
  data: string | undefined;
  /** The last `event:` field; undefined means the default type, `message`. */
  event: string | undefined;
  /** The last `id:` field of this block (an id containing NUL is ignored, as the spec says). */
  id: string | undefined;
  /** The last `retry:` field in ms, when it was all ASCII digits. */
  retry: number | undefined;
  /** The stream's last event id once this block ended: it persists across blocks until an `id:` changes it. */
  lastEventId: string;
  /** Comment lines without the `:` and one space; only with `comments: true`. */
  comments?: string[];
  /** The block's lines joined with `\n` (BOM and line ends dropped); only with `raw: true`. */
  raw?: string;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /** Called at the end of every block that had at least one line. */
  onBlock: (block: SseBlock) => void;
  /** The last event id to start from (a reconnection's `Last-Event-ID`). */
  lastEventId?: string;
  /** Report comment lines in {@link SseBlock.comments}. */
  comments?: boolean;
  /** Report each block's text in {@link SseBlock.raw} (tests that assert exact bytes). */
  raw?: boolean;
}

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;
const NUL = 0;

const textDecoder = new TextDecoder();
/** UTF-8 of `bytes[start, end)`, malformed sequences as U+FFFD; node's Buffer slice is the fast path. */
const decode: (bytes: Uint8Array, start: number, end: number) => string =
  typeof Buffer === "function"
    ? (bytes, start, end) => (start === end ? "" : (bytes as Buffer).toString("utf8", start, end))
    : (bytes, start, end) => textDecoder.decode(bytes.subarray(start, end));
const asBuffer: (bytes: Uint8Array) => Uint8Array =
  typeof Buffer === "function" ? (bytes) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) : (bytes) => bytes;
const textEncoder = new TextEncoder();

/**
 * An incremental event-stream parser: {@link push} chunks as they arrive (bytes, or text), {@link end} when the
 * stream ends (an unfinished block is dropped, as the spec says).
 * @example
 * const parser = new SseParser({ onBlock: (b) => b.data !== undefined && console.log(b.event ?? "message", b.data) });
 * for await (const chunk of response.body) parser.push(chunk);
 */
export class SseParser {
  /** The stream's last event id (the spec's; persists across blocks). */
  lastEventId: string;
  /** The reconnection time the stream asked for last, in ms. */
  retryMs: number | undefined;

  private readonly onBlock: (block: SseBlock) => void;
  private readonly keepComments: boolean;
  private readonly keepRaw: boolean;
  /** Bytes of an unfinished line carried over from the previous chunks. */
  private carry: Uint8Array[] | undefined;
  /** The previous chunk ended in CR: an LF at the start of this one belongs to it. */
  private afterCr = false;
  private atStart = true;
  private lines = 0;
  private idBuffer: string;
  private data: string | undefined;
  private event: string | undefined;
  private id: string | undefined;
  private retry: number | undefined;
  private comments: string[] | undefined;
  private raw: string[] | undefined;

  constructor(options: SseParserOptions) {
    this.onBlock = options.onBlock;
    this.keepComments = options.comments === true;
    this.keepRaw = options.raw === true;
    this.lastEventId = options.lastEventId ?? "";
    this.idBuffer = this.lastEventId;
  }

  /** Parses the next chunk of the stream. */
  push(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === "string" ? asBuffer(textEncoder.encode(chunk)) : asBuffer(chunk);
    let i = 0;
    if (this.afterCr && bytes.length > 0) {
      this.afterCr = false;
      if (bytes[0] === LF) i = 1;
    }
    if (this.carry) {
      // Finish the carried line first: join it with this chunk's bytes up to the next line end.
      const end = lineEnd(bytes, i);
      if (end === -1) {
        this.carry.push(bytes.slice(i));
        return;
      }
      this.carry.push(bytes.subarray(i, end));
      const line = concat(this.carry);
      this.carry = undefined;
      this.line(line, 0, line.length);
      i = this.skipEol(bytes, end);
    }
    let cr = bytes.indexOf(CR, i);
    while (i < bytes.length) {
      let end = bytes.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = bytes.indexOf(CR, i);
      if (cr !== -1 && (end === -1 || cr < end)) end = cr;
      if (end === -1) {
        this.carry = [bytes.slice(i)];
        return;
      }
      this.line(bytes, i, end);
      i = this.skipEol(bytes, end);
    }
  }

  /** The stream ended: an unfinished block is dropped, as the spec says. */
  end(): void {
    this.carry = undefined;
    this.afterCr = false;
    this.resetBlock();
  }

  /** Index after the line end at `end` (CRLF counts as one; a CR last in the chunk may pair with the next). */
  private skipEol(bytes: Uint8Array, end: number): number {
    if (bytes[end] === CR) {
      if (end + 1 === bytes.length) this.afterCr = true;
      else if (bytes[end + 1] === LF) return end + 2;
    }
    return end + 1;
  }

  private line(bytes: Uint8Array, start: number, end: number): void {
    if (this.atStart) {
      this.atStart = false;
      if (end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3;
    }
    if (start === end) {
      this.dispatch();
      return;
    }
    this.lines++;
    if (this.keepRaw) (this.raw ??= []).push(decode(bytes, start, end));
    if (bytes[start] === COLON) {
      if (this.keepComments) (this.comments ??= []).push(decode(bytes, bytes[start + 1] === SPACE ? start + 2 : start + 1, end));
      return;
    }
    let colon = start;
    while (colon < end && bytes[colon] !== COLON) colon++;
    let value = colon + 1;
    if (value < end && bytes[value] === SPACE) value++;
    if (value > end) value = end;
    switch (colon - start) {
      case 4:
        if (isName(bytes, start, "data")) {
          const text = decode(bytes, value, end);
          this.data = this.data === undefined ? text : `${this.data}\n${text}`;
        }
        return;
      case 5:
        if (isName(bytes, start, "event")) this.event = decode(bytes, value, end);
        else if (isName(bytes, start, "retry")) this.setRetry(bytes, value, end);
        return;
      case 2:
        if (isName(bytes, start, "id") && !includesNul(bytes, value, end)) {
          this.id = decode(bytes, value, end);
          this.idBuffer = this.id;
        }
        return;
    }
  }

  private setRetry(bytes: Uint8Array, start: number, end: number): void {
    if (start === end) return;
    let ms = 0;
    for (let k = start; k < end; k++) {
      const digit = bytes[k]! - 48;
      if (digit < 0 || digit > 9) return;
      ms = ms * 10 + digit;
    }
    this.retry = ms;
    this.retryMs = ms;
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer;
    if (this.lines === 0) return;
    const block: SseBlock = { data: this.data, event: this.event, id: this.id, retry: this.retry, lastEventId: this.lastEventId };
    if (this.keepComments) block.comments = this.comments ?? [];
    if (this.keepRaw) block.raw = (this.raw ?? []).join("\n");
    this.resetBlock();
    this.onBlock(block);
  }

  private resetBlock(): void {
    this.lines = 0;
    this.data = undefined;
    this.event = undefined;
    this.id = undefined;
    this.retry = undefined;
    this.comments = undefined;
    this.raw = undefined;
  }
}

/** Parses a whole stream (or the start of one: an unfinished last block is dropped) into its blocks. */
export function parseSse(stream: Uint8Array | string, options: Omit<SseParserOptions, "onBlock"> = {}): SseBlock[] {
  const blocks: SseBlock[] = [];
  const parser = new SseParser({ ...options, onBlock: (b) => blocks.push(b) });
  parser.push(stream);
  parser.end();
  return blocks;
}

/** Whether `bytes` hold the ASCII `name` from `start` on. */
function isName(bytes: Uint8Array, start: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) if (bytes[start + k] !== name.charCodeAt(k)) return false;
  return true;
}

/** Index of the first CR or LF at or after `from`, or -1. */
function lineEnd(bytes: Uint8Array, from: number): number {
  const lf = bytes.indexOf(LF, from);
  const cr = bytes.indexOf(CR, from);
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
}

function includesNul(bytes: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (bytes[k] === NUL) return true;
  return false;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = asBuffer(new Uint8Array(parts.reduce((n, p) => n + p.length, 0)));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
