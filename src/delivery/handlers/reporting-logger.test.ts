import pino from "pino";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ErrorInfo } from "./function-destination.js";
import { reportingLogger } from "./reporting-logger.js";

describe("reportingLogger", () => {
  it("hands error and fatal calls, its children's too, to the reporter, and still logs them", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const reported: Array<[unknown, ErrorInfo]> = [];
    const log = reportingLogger(pino({ level: "info" }, sink), (err, info) => reported.push([err, info]));
    const boom = new Error("connection reset");
    log.child({ component: "dispatcher" }).error({ err: boom, subscriptionId: "sub_1" }, "reading the log for a subscription failed");
    log.fatal("store gone");
    log.info({ n: 1 }, "not an error");
    expect(reported[0]).toEqual([boom, { during: "reading the log for a subscription failed" }]);
    expect((reported[1]![0] as Error).message).toBe("store gone");
    expect(reported).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["reading the log for a subscription failed", "store gone", "not an error"]);
    expect(JSON.parse(lines[0]!).component).toBe("dispatcher");
  });

  it("survives a reporter that throws", () => {
    const log = reportingLogger(pino({ level: "silent" }), () => {
      throw new Error("bad reporter");
    });
    expect(() => log.error("x")).not.toThrow();
  });
});
