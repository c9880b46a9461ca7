import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request, startTestHub, type TestHub } from "../helpers/hub.js";
import { matchPath, schemaChecker, type OpenApiDocument } from "../helpers/openapi.js";

/** A request shown in the docs: a curl command in a shell block, or an inline `` `POST /api/keys {…}` ``. */
interface DocRequest {
  where: string;
  method: string;
  path: string;
  body?: string;
}

const FILES = ["README.md", ...readdirSync("docs").map((f) => `docs/${f}`)].filter((f) => f.endsWith(".md"));

/** Shell words of one line of commands, single and double quotes kept together (and across lines). */
function shellWords(text: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end === -1) break; // prose with an apostrophe: nothing more to read here
      word = (word ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === "\\" && text[i + 1] === "\n") i++;
    else if (c === "#" && word === undefined) {
      const eol = text.indexOf("\n", i);
      i = eol === -1 ? text.length : eol - 1;
    } else if (/[\s;&|]/.test(c)) {
      if (word !== undefined) commands.at(-1)!.push(word);
      word = undefined;
      if (c !== " " && c !== "\t") commands.push([]);
    } else word = (word ?? "") + c;
  }
  if (word !== undefined) commands.at(-1)!.push(word);
  return commands.filter((c) => c.length > 0);
}

function curlRequest(words: string[], where: string): DocRequest | undefined {
  const start = words.indexOf("curl");
  if (start === -1) return undefined;
  let method: string | undefined;
  let url: string | undefined;
  let body: string | undefined;
  for (let i = start + 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === "-X" || w === "--request") method = words[++i];
    else if (w === "-d" || w === "--data" || w === "--data-raw") body = words[++i];
    else if (w === "-H" || w === "--header") i++;
    else if (!w.startsWith("-")) url ??= w;
  }
  if (url === undefined) return undefined;
  const path = new URL(url.includes("://") ? url : `http://${url}`).pathname;
  return { where, method: method ?? (body === undefined ? "GET" : "POST"), path, body };
}

function docRequests(): DocRequest[] {
  const out: DocRequest[] = [];
  for (const file of FILES) {
    const text = readFileSync(file, "utf8");
    // Every fenced block, whatever its language, so that a ```json block's fences are not taken for a shell block's.
    for (const block of text.matchAll(/^\s*```(\w*)\n([\s\S]*?)^\s*```/gm)) {
      if (!["", "sh", "bash", "shell", "console"].includes(block[1]!)) continue;
      const body = block[2]!.replace(/^\s*\$ /gm, "");
      for (const words of shellWords(body)) {
        const found = curlRequest(words, `${file}: ${words.join(" ").slice(0, 80)}`);
        if (found) out.push(found);
      }
    }
    // Inline: a body whose first key is quoted is meant as JSON; `{topic, url, …}` only names the fields.
    for (const inline of text.matchAll(/`(POST|PUT|PATCH) ((?:BASE_PATH|\/api)\/[^\s`]*) (\{"[^`]*\})`/g)) {
      out.push({ where: `${file}: ${inline[0]}`, method: inline[1]!, path: inline[2]!.replace("BASE_PATH", "/api"), body: inline[3] });
    }
  }
  return out;
}

describe("the request examples in the docs", () => {
  let hub: TestHub;
  let doc: OpenApiDocument;
  beforeAll(async () => {
    hub = await startTestHub();
    doc = (await request(`${hub.url}/api/openapi.json`)).body;
  });
  afterAll(() => hub.close());

  const examples = docRequests();

  it("are found: curl commands and inline requests with bodies", () => {
    expect(examples.filter((e) => e.body !== undefined).length).toBeGreaterThanOrEqual(11);
  });

  it("would catch a wrong one", () => {
    const schema = matchPath(doc, "POST", "/api/topics")!.operation.requestBody.content["application/json"].schema;
    expect(schemaChecker(doc)(schema, { nam: "users" })).toMatch(/name|additional/);
  });

  it.each(examples.map((e) => [e.where, e] as const))("%s", (_, example) => {
    const found = matchPath(doc, example.method, example.path);
    expect(found, `${example.method} ${example.path} is not in the document`).toBeDefined();
    if (example.body === undefined) return;
    const schema = found!.operation.requestBody?.content["application/json"]?.schema;
    expect(schema, `${example.method} ${found!.template} takes no JSON body`).toBeDefined();
    let body: unknown;
    expect(() => (body = JSON.parse(example.body!)), `the body is not JSON: ${example.body}`).not.toThrow();
    expect(schemaChecker(doc)(schema, body)).toBeUndefined();
  });
});
