import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run chaos`: the chaos suite at length. The quick variants of test/chaos/*.test.ts (which `npm test` runs too)
 * with CHAOS_LONG=1, and the *.chaos.ts files that take minutes (a private PostgreSQL server stopped and started).
 * The base config's `include` is replaced, not merged (mergeConfig would add the whole suite).
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/chaos/**/*.test.ts", "test/chaos/**/*.chaos.ts"],
    outputFile: { json: "test-results/chaos.json" },
  },
});
