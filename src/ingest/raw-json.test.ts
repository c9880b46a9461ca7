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

  it("agrees with JSON.parse on thousands of random documents", () => {
    const rand = seeded(42);
    for (let i = 0; i < 3000; i++) {
      const text = randomJson(rand, 4);
      const parsed = JSON.parse(text);
      const top = wholeSpan(text);
      // Whole value: compacting changes no token, so both parse alike (and big numbers keep their digits).
      expect(JSON.parse(compact(text, top))).toEqual(parsed);
      expect(compact(text, top)).not.toMatch(/^\s|\s$/);
      if (Array.isArray(parsed)) {
        const spans = elementSpans(text, top);
        expect(spans.length).toBe(parsed.length);
        spans.forEach((s, j) => expect(JSON.parse(compact(text, s))).toEqual(parsed[j]));
      } else if (parsed !== null && typeof parsed === "object") {
        for (const key of Object.keys(parsed)) {
          expect(JSON.parse(compact(text, memberSpan(text, top, key)!))).toEqual(parsed[key]);
        }
      }
    }
  });
});
