import { describe, expect, it } from "vitest";
import { checkSchema } from "./schema-check";

describe("checkSchema", () => {
  it.each([
    [{ type: "object", required: ["id"], properties: { id: { type: "string", format: "uuid" } } }, []],
    [{ type: "object", errorMessage: { required: "an order needs an id" }, required: ["id"] }, []],
    [{ $id: "https://example.com/order", type: "object" }, []],
    [
      { type: "strnig" },
      [{ path: "/type", message: 'must be equal to one of the allowed values: "array", "boolean", "integer", "null", "number", "object", "string"' }],
    ],
    [
      { properties: { a: { minLength: -1 } }, required: "a" },
      [
        { path: "/properties/a/minLength", message: "must be >= 0" },
        { path: "/required", message: "must be array" },
      ],
    ],
    [{ pattern: "(" }, [{ path: "", message: expect.stringMatching(/Invalid regular expression/) }]],
    [["not", "an", "object"], [{ path: "", message: "must be a JSON Schema object" }]],
    [true, [{ path: "", message: "must be a JSON Schema object" }]],
  ])("%j: %j", (schema, problems) => {
    expect(checkSchema(schema).sort((a, b) => a.path.localeCompare(b.path))).toEqual(problems);
  });

  it("takes the same $id twice (each check forgets the schema it compiled)", () => {
    expect(checkSchema({ $id: "https://example.com/x", type: "object" })).toEqual([]);
    expect(checkSchema({ $id: "https://example.com/x", type: "string" })).toEqual([]);
  });
});
