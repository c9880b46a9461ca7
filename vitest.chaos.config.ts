import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run chaos`: the chaos suite at length. The quick variants of test/chaos/*.test.ts (which `npm test` runs too)
 * with CHAOS_LONG=1, and the *.chaos.ts files that take minutes (a private PostgreSQL server stopped and started).
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ["test/chaos/**/*.test.ts", "test/chaos/**/*.chaos.ts"],
      outputFile: { json: "test-results/chaos.json" },
    },
  }),
);
