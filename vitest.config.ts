import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn hubs and open thousands of sockets: keep files from starving each other on 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
