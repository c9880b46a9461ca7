import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.tsx"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn hubs and open thousands of sockets: two workers on two cores.
    maxWorkers: 2,
    reporters: ["default", "json"],
    outputFile: { json: "test-results/results.json" },
  },
});
