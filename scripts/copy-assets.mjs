// What tsc does not do: copy the SQL migrations next to the compiled store, and make the CLI executable.
import { chmodSync, cpSync, rmSync } from "node:fs";

// Replaced, not merged: a migration renamed or removed in src must not linger in dist and be applied.
rmSync("dist/store/migrations", { recursive: true, force: true });
cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
chmodSync("dist/cli/index.js", 0o755);
