import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.{ts,tsx}"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn hubs and open thousands of sockets: two workers on two cores.
    maxWorkers: 2,
    // The console's component tests (web/) run on happy-dom, at the address a hub would serve them from.
    environmentOptions: { happyDOM: { url: "http://127.0.0.1:8080/" } },
    reporters: ["default", "json"],
    outputFile: { json: "test-results/results.json" },
  },
});
