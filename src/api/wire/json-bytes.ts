/** A reply's JSON as bytes, in pieces: send them in order; `byteLength` is their sum (the Content-Length). */
export interface JsonBytes {
  chunks: Buffer[];
  byteLength: number;
}

/**
 * Characters per piece before it is turned into bytes: at most about 96 KiB as UTF-8, so neither a piece's text nor
 * its bytes reach V8's large-object size (128 KiB) or glibc's mmap threshold (128 KiB). Past those, each allocation
 * is a mapping of its own and each of its pages faults at first touch, about 13 µs of CPU on the virtual machines
 * measured (a 290 KB reply as one string: ~140 faults in the hub, ~2 ms; docs/aggregation.md, "What moving a large
 * reply costs").
 */
const PIECE_CHARS = 32_768;

/**
 * Writes JSON text into {@link JsonBytes}: appended text is kept as a string until it passes {@link PIECE_CHARS}, then
 * encoded into a Buffer of its own. Text declared ASCII (the default) is encoded as Latin-1, a plain copy, whose bytes
 * are its UTF-8; a piece holding any other text is encoded as UTF-8.
 *
 * @example
 * const out = new JsonBytesWriter();
 * out.append('{"a":');
 * out.append(JSON.stringify(name), /^[\x20-\x7e]*$/.test(name));
 * out.append("}");
 * const { chunks, byteLength } = out.end();
 */
export class JsonBytesWriter {
  readonly #chunks: Buffer[] = [];
  #byteLength = 0;
  #text = "";
  #ascii = true;

  /** Appends JSON text; `ascii: false` when it may hold characters past U+007F. */
  append(text: string, ascii = true): void {
    this.#text += text;
    if (!ascii) this.#ascii = false;
    if (this.#text.length >= PIECE_CHARS) this.#flush();
  }

  /** The bytes written; the writer is not to be used after. */
  end(): JsonBytes {
    this.#flush();
    return { chunks: this.#chunks, byteLength: this.#byteLength };
  }

  #flush(): void {
    if (this.#text === "") return;
    const bytes = Buffer.from(this.#text, this.#ascii ? "latin1" : "utf8");
    this.#chunks.push(bytes);
    this.#byteLength += bytes.length;
    this.#text = "";
    this.#ascii = true;
  }
}
