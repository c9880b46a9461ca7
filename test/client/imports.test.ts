import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/process.js";

/**
 * The runtime imports of a module and everything it imports in turn: `import type` and `export type` lines are
 * erased by tsc, so they are left out; the others are followed.
 */
function runtimeGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^;]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".")) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else packages.add(specifier);
    }
  }
  return { files: files.map((f) => relative(REPO_ROOT, f)), packages };
}

it("switchboard/client reaches no package but node's own, and none of the server's modules", () => {
  const { files, packages } = runtimeGraph(join(REPO_ROOT, "src/client/index.ts"));
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  expect([...packages].filter((p) => !builtins.has(p))).toEqual([]);
  // The one module it shares with the hub is the webhook signing, which is node:crypto alone.
  expect(files.filter((f) => !f.startsWith("src/client/")).sort()).toEqual(["src/delivery/webhooks/sign.ts"]);
});
