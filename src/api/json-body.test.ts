import Fastify, { type FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { parseJsonQuickly, UNDECIDED } from "./json-body.js";

const fastifyParser = Fastify().getDefaultJsonParser("error", "error");

/** fastify's parser, as build-app uses it: the value, or the error's code. */
function parsedByFastify(text: string): { value?: unknown; code?: string } {
  let out: { value?: unknown; code?: string } = {};
  fastifyParser({} as FastifyRequest, text, (error, value) => {
    out = error === null ? { value } : { code: (error as Error & { code: string }).code };
  });
  return out;
}

describe("parseJsonQuickly", () => {
  it.each([
    ['{"a":1}', { a: 1 }],
    ['[1,"x",null,{"b":[true]}]', [1, "x", null, { b: [true] }]],
    ['"a string"', "a string"],
    ["12.50", 12.5],
    ["null", null],
    ['{"s":"[[[[[[[[[[{{{{{{{{"}', { s: "[[[[[[[[[[{{{{{{{{" }],
    ['{"proto":"__proto","construct":"or"}', { proto: "__proto", construct: "or" }],
    ['{"e":"\\n\\"\\\\"}', { e: '\n"\\' }],
  ])("%s is parsed as fastify's parser parses it", (text, expected) => {
    const value = parseJsonQuickly(text);
    expect(value).toEqual(expected);
    expect(parsedByFastify(text)).toEqual({ value: expected });
  });

  it.each([
    // Keys fastify's parser refuses, however spelt.
    ['{"__proto__":{"admin":true}}', "FST_ERR_CTP_INVALID_JSON_BODY"],
    ['{"a":[{"b":{"__proto__":1}}]}', "FST_ERR_CTP_INVALID_JSON_BODY"],
    ['{"\\u005f_proto__":{"admin":true}}', "FST_ERR_CTP_INVALID_JSON_BODY"],
    ['{"__pr\\u006fto__":{"admin":true}}', "FST_ERR_CTP_INVALID_JSON_BODY"],
    ['{"constructor":{"prototype":{"x":1}}}', "FST_ERR_CTP_INVALID_JSON_BODY"],
    ['{"\\u0063onstructor":{"prototype":{"x":1}}}', "FST_ERR_CTP_INVALID_JSON_BODY"],
    // Text JSON.parse refuses: fastify words the error.
    ["", "FST_ERR_CTP_EMPTY_JSON_BODY"],
    ['{"a":', "FST_ERR_CTP_INVALID_JSON_BODY"],
    ["{'a':1}", "FST_ERR_CTP_INVALID_JSON_BODY"],
  ])("%s is left to fastify's parser, which refuses it (%s)", (text, code) => {
    expect(parseJsonQuickly(text)).toBe(UNDECIDED);
    expect(parsedByFastify(text)).toEqual({ code });
  });

  it.each([
    // The words as values, or a constructor key without a prototype: fastify's parser accepts them.
    ['{"note":"__proto__"}', { note: "__proto__" }],
    ['{"note":"constructor"}', { note: "constructor" }],
    ['{"constructor":"Object"}', { constructor: "Object" }],
    ['{"constructor":{"name":"x"}}', { constructor: { name: "x" } }],
    ['{"e":"caf\\u00e9"}', { e: "café" }],
    // A second BOM (build-app drops the first): fastify's parser drops it too.
    ['\ufeff{"bom":true}', { bom: true }],
  ])("%s is left to fastify's parser, which accepts it", (text, expected) => {
    expect(parseJsonQuickly(text)).toBe(UNDECIDED);
    expect(parsedByFastify(text)).toEqual({ value: expected });
  });
});
