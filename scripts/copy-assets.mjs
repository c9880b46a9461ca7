// What tsc does not do: copy the SQL migrations next to the compiled store, and make the CLI executable.
import { chmodSync, cpSync } from "node:fs";

cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
chmodSync("dist/cli/index.js", 0o755);
