import { describe, expect, it } from "vitest";
import { SwitchboardError } from "../client/errors.js";
import type { EventOut } from "../client/types.js";
import { Output, type OutStream } from "./output.js";

/** A stand-in for stdout or stderr that keeps what was written. */
function sink(isTTY: boolean): OutStream & { text: string } {
  const s = {
    text: "",
    isTTY,
    columns: 100,
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s;
}

const event: EventOut = {
  id: "evt_1",
  seq: 1,
  topic: "orders.created",
  type: "order",
  source: null,
  subject: null,
  time: "2025-01-01T00:00:00.000Z",
  key: "k1",
  data: { total: 9.5, ok: true, name: "x" },
  attributes: {},
  received_at: "2025-01-01T00:00:00.000Z",
};

describe("Output", () => {
  it("writes JSON lines when stdout is not a TTY, whatever stderr is", async () => {
    const stdout = sink(false);
    const out = new Output({ stdout, stderr: sink(true), env: {} });
    await out.print({ a: 1 });
    await out.printEvent(event);
    expect(stdout.text).toBe(`{"a":1}\n${JSON.stringify(event)}\n`);
  });

  it("colours on a TTY, and not with NO_COLOR or --json", async () => {
    const tty = sink(true);
    await new Output({ stdout: tty, stderr: sink(true), env: {} }).printEvent(event);
    expect(tty.text).toContain("\x1b[36morders.created\x1b[0m");
    expect(tty.text).toContain("\x1b[33m9.5\x1b[0m");

    const plain = sink(true);
    await new Output({ stdout: plain, stderr: sink(true), env: { NO_COLOR: "1" } }).print({ a: [1, "b"] });
    expect(plain.text).toBe('{\n  "a": [\n    1,\n    "b"\n  ]\n}\n');

    const json = sink(true);
    await new Output({ stdout: json, stderr: sink(true), env: {}, json: true }).print({ a: 1 });
    expect(json.text).toBe('{"a":1}\n');
  });

  it("prints errors as the hub's JSON body off a TTY, and as a red line on one", () => {
    const error = new SwitchboardError("SB_TOPIC_INVALID", 400, "bad name", { title: "invalid topic" });
    const piped = sink(false);
    new Output({ stdout: sink(false), stderr: piped, env: {} }).error(error);
    expect(JSON.parse(piped.text)).toEqual({ error: "invalid topic", details: "bad name", code: "SB_TOPIC_INVALID", status: 400 });
    const tty = sink(true);
    new Output({ stdout: sink(true), stderr: tty, env: {} }).error(error);
    expect(tty.text).toBe("\x1b[31mSB_TOPIC_INVALID\x1b[0m (400) bad name\n");
  });

  it("draws progress on stderr only when it is a TTY", () => {
    const quiet = sink(false);
    const none = new Output({ stdout: sink(false), stderr: quiet, env: {} }).progress("import", 10);
    none.update(5, true);
    none.finish();
    expect(quiet.text).toBe("");

    const stderr = sink(true);
    const bar = new Output({ stdout: sink(false), stderr, env: { NO_COLOR: "1" } }).progress("import", 10, " events");
    bar.update(5, true);
    expect(stderr.text).toMatch(/^\rimport \[#+-+\] {2}50% 5\/10 events\x1b\[K$/);
    bar.finish();
    expect(stderr.text).toMatch(/100% 10\/10 events\x1b\[K\n$/);
    const counter = new Output({ stdout: sink(false), stderr: sink(true), env: {} }).progress("export");
    counter.update(42, true);
    expect(counter.line()).toBe("export 42");
  });
});
