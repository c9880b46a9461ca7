import { describe, expect, it } from "vitest";
import { parseSse, SseParser, type SseBlock } from "./sse-parser.js";

/** A block as the tables write it: only the fields that are set. */
type Expected = Partial<SseBlock>;

const block = (b: Expected): SseBlock => ({ data: undefined, event: undefined, id: undefined, retry: undefined, lastEventId: "", ...b });

// [name, stream, expected blocks] — per the WHATWG "Interpreting an event stream" rules.
const TABLE: Array<[string, string, Expected[]]> = [
  ["one data line", "data: hello\n\n", [{ data: "hello" }]],
  ["no space after the colon", "data:hello\n\n", [{ data: "hello" }]],
  ["only one leading space is dropped", "data:  two\n\n", [{ data: " two" }]],
  ["data lines joined with LF", "data: a\ndata: b\ndata\n\n", [{ data: "a\nb\n" }]],
  ["an empty data line still makes an event", "data:\n\n", [{ data: "" }]],
  ["colons after the first belong to the value", "data: a: b:c\n\n", [{ data: "a: b:c" }]],
  [
    "event, id and retry",
    "event: order\nid: evt_1\nretry: 2000\ndata: {}\n\n",
    [{ event: "order", id: "evt_1", retry: 2000, lastEventId: "evt_1", data: "{}" }],
  ],
  ["the last of a repeated field wins", "event: a\nevent: b\ndata: x\n\n", [{ event: "b", data: "x" }]],
  ["CRLF line ends", "id: 1\r\ndata: a\r\ndata: b\r\n\r\n", [{ id: "1", lastEventId: "1", data: "a\nb" }]],
  ["CR line ends", "data: a\rdata: b\r\r", [{ data: "a\nb" }]],
  ["mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", [{ data: "a\nb\nc" }]],
  ["a leading BOM is skipped", "\uFEFFdata: x\n\n", [{ data: "x" }]],
  ["a BOM later is data", "data: \uFEFFx\n\n", [{ data: "\uFEFFx" }]],
  ["a BOM is only skipped once", "\uFEFF\uFEFFdata: x\n\n", [{}]],
  ["comments are skipped", ": hi\ndata: x\n:\n\n", [{ data: "x" }]],
  ["a block of comments only", ": ping\n\n", [{}]],
  ["unknown fields are ignored", "foo: bar\nDATA: no\ndata: yes\n\n", [{ data: "yes" }]],
  ["an id containing NUL is ignored", "id: a\0b\ndata: x\n\n", [{ data: "x" }]],
  [
    "the last event id persists across blocks",
    "id: 7\ndata: a\n\ndata: b\n\n",
    [
      { id: "7", lastEventId: "7", data: "a" },
      { lastEventId: "7", data: "b" },
    ],
  ],
  [
    "an empty id resets it",
    "id: 7\n\nid\ndata: b\n\n",
    [
      { id: "7", lastEventId: "7" },
      { id: "", data: "b" },
    ],
  ],
  ["retry that is not all digits is ignored", "retry: 10s\nretry: \nretry: -1\ndata: x\n\n", [{ data: "x" }]],
  ["blank lines between blocks report nothing", "\n\n\ndata: a\n\n\n\n", [{ data: "a" }]],
  ["an unfinished last block is dropped", "data: a\n\ndata: b\n", [{ data: "a" }]],
  ["a block without data is still reported", "retry: 2000\n: connected\n\n", [{ retry: 2000 }]],
  ["multi-byte characters", "data: ümlaut → 💡\n\n", [{ data: "ümlaut → 💡" }]],
];

describe("SseParser", () => {
  it.each(TABLE)("%s", (_name, stream, expected) => {
    expect(parseSse(stream)).toEqual(expected.map(block));
  });

  it.each(TABLE)("%s, fed one byte at a time", (_name, stream, expected) => {
    const bytes = Buffer.from(stream);
    const blocks: SseBlock[] = [];
    const parser = new SseParser({ onBlock: (b) => blocks.push(b) });
    for (let i = 0; i < bytes.length; i++) parser.push(new Uint8Array(bytes.subarray(i, i + 1)));
    parser.end();
    expect(blocks).toEqual(expected.map(block));
  });

  it("gives the same blocks however a stream is split in two", () => {
    const stream = Buffer.from("\uFEFFid: 1\r\nevent: é\r\ndata: a\r\r: c\ndata: 💡\n\ndata: x\r\n\r\n");
    const whole = parseSse(stream, { comments: true, raw: true });
    for (let cut = 0; cut <= stream.length; cut++) {
      const blocks: SseBlock[] = [];
      const parser = new SseParser({ onBlock: (b) => blocks.push(b), comments: true, raw: true });
      parser.push(stream.subarray(0, cut));
      parser.push(stream.subarray(cut));
      expect(blocks, `cut at ${cut}`).toEqual(whole);
    }
  });

  it("reports comments and the raw text when asked", () => {
    expect(parseSse("retry: 2000\n: connected\n:x\r\n\r\n", { comments: true, raw: true })).toEqual([
      block({ retry: 2000, comments: ["connected", "x"], raw: "retry: 2000\n: connected\n:x" }),
    ]);
  });

  it("starts from a given last event id and keeps the latest retry", () => {
    const parser = new SseParser({ onBlock: () => {}, lastEventId: "evt_0" });
    parser.push("retry: 100\ndata: a\n\nretry: 5\n\n");
    expect(parser.lastEventId).toBe("evt_0");
    expect(parser.retryMs).toBe(5);
  });

  it("decodes malformed UTF-8 as U+FFFD", () => {
    expect(parseSse(Uint8Array.from([...Buffer.from("data: "), 0xff, 10, 10]))).toEqual([block({ data: "\uFFFD" })]);
  });
});
