import { describe, expect, it } from "vitest";
import { compact, elementSpans, memberSpan, wholeSpan } from "./raw-json.js";

/** A random JSON text with random whitespace, nested up to `depth`. */
function randomJson(rand: () => number, depth: number): string {
  const ws = () => [" ", "", "\n", "\t", "  ", "\r\n"][Math.floor(rand() * 6)]!;
  const r = rand();
  if (depth <= 0 || r < 0.35) {
    const scalars = ["0", "-1.50", "1e3", "12345678901234567890", "true", "false", "null", '"a\\"b"', '"\\\\"', '"x y"', '"\\u0041{["', '"]}"'];
    return scalars[Math.floor(rand() * scalars.length)]!;
  }
  const n = Math.floor(rand() * 4);
  if (r < 0.65) {
    const items = Array.from({ length: n }, () => ws() + randomJson(rand, depth - 1) + ws());
    return `[${items.join(",")}]`;
  }
  const keys = ["a", "data", "payload", "d\\u0061ta", "b c", "}"];
  const members = Array.from({ length: n }, () => `${ws()}"${keys[Math.floor(rand() * keys.length)]}"${ws()}:${ws()}${randomJson(rand, depth - 1)}${ws()}`);
  return `{${members.join(",")}}`;
}

/** Compaction the slow way, token by token: whitespace outside strings dropped. */
function compactedSlowly(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|[ \t\n\r]+/g, (m) => (m.startsWith('"') ? m : ""));
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe("raw JSON spans", () => {
  it("keeps numbers and escapes as written and drops only whitespace", () => {
    const text = ' { "data" : { "big": 12345678901234567890, "price": 1.50, "s": "a \\" b" , "e": 1e3 } } ';
    const span = memberSpan(text, wholeSpan(text), "data")!;
    expect(compact(text, span)).toBe('{"big":12345678901234567890,"price":1.50,"s":"a \\" b","e":1e3}');
  });

  it("finds the last of duplicate keys, as JSON.parse keeps it, and keys written with escapes", () => {
    const text = '{"data":1,"d\\u0061ta":[2, 3]}';
    expect(compact(text, memberSpan(text, wholeSpan(text), "data")!)).toBe("[2,3]");
    expect(memberSpan(text, wholeSpan(text), "payload")).toBeUndefined();
  });

  it("splits arrays into elements, including empty ones", () => {
    const text = '[ {"a":"]"} , [1,[2]], "x,y" ,null ]';
    expect(elementSpans(text, wholeSpan(text)).map((s) => compact(text, s))).toEqual(['{"a":"]"}', "[1,[2]]", '"x,y"', "null"]);
    expect(elementSpans("[ ]", wholeSpan("[ ]"))).toEqual([]);
  });

  it("marks spans dense only when they hold no whitespace outside strings", () => {
    const text = '[{"data":{"s":"a b","n":[1,2]}},{"data":{"n": 1}},"x y",[1 ]]';
    const elements = elementSpans(text, wholeSpan(text));
    expect(elements.map((s) => s.dense)).toEqual([true, false, true, false]);
    expect(elements.slice(0, 2).map((s) => memberSpan(text, s, "data")!.dense)).toEqual([true, false]);
    expect(elements.map((s) => compact(text, s))).toEqual(['{"data":{"s":"a b","n":[1,2]}}', '{"data":{"n":1}}', '"x y"', "[1]"]);
    const walked = elementSpans(text, wholeSpan(text), ["data"]);
    expect(walked.map((s) => s.dense)).toEqual([true, false, true, false]);
    expect(walked.slice(0, 2).map((s) => memberSpan(text, s, "data")!.dense)).toEqual([true, false]);
    const spaced = '[{ "data":1},{"data" :1},{"data": 1},{"data":1 },{"data":1 ,"b":2},{"data":1, "b":2},{"b":2,"data":1}]';
    expect(elementSpans(spaced, wholeSpan(spaced), ["data"]).map((s) => s.dense)).toEqual([false, false, false, false, false, false, true]);
  });

  it("agrees with JSON.parse on thousands of random documents", () => {
    const rand = seeded(42);
    for (let i = 0; i < 3000; i++) {
      const text = randomJson(rand, 4);
      const parsed = JSON.parse(text);
      const top = wholeSpan(text);
      // Whole value: compacting changes no token, so both parse alike (and big numbers keep their digits).
      expect(JSON.parse(compact(text, top))).toEqual(parsed);
      expect(compact(text, top)).not.toMatch(/^\s|\s$/);
      expect(compact(text, top)).toBe(compactedSlowly(text.trim()));
      if (Array.isArray(parsed)) {
        const spans = elementSpans(text, top);
        expect(spans.length).toBe(parsed.length);
        spans.forEach((s, j) => {
          expect(JSON.parse(compact(text, s))).toEqual(parsed[j]);
          expect(compact(text, s)).toBe(compactedSlowly(text.slice(s.start, s.end)));
        });
        // Members found on the elements' walk are the ones a walk of each element finds.
        const keys = ["data", "payload", "b c"];
        const walked = elementSpans(text, top, keys);
        expect(walked.map((s) => [s.start, s.end, compact(text, s)])).toEqual(spans.map((s) => [s.start, s.end, compact(text, s)]));
        walked.forEach((s, j) => {
          if (parsed[j] === null || typeof parsed[j] !== "object" || Array.isArray(parsed[j])) return;
          expect(s.members).toBeDefined();
          for (const key of [...keys, "a", "}"]) {
            const found = memberSpan(text, s, key);
            const again = memberSpan(text, { start: s.start, end: s.end }, key);
            expect(found && [found.start, found.end, compact(text, found)]).toEqual(again && [again.start, again.end, compact(text, again)]);
          }
        });
      } else if (parsed !== null && typeof parsed === "object") {
        for (const key of Object.keys(parsed)) {
          const s = memberSpan(text, top, key)!;
          expect(JSON.parse(compact(text, s))).toEqual(parsed[key]);
          expect(compact(text, s)).toBe(compactedSlowly(text.slice(s.start, s.end)));
        }
      }
    }
  });
});
