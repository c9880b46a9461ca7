// Copies what tsc does not: the SQL migrations, next to the compiled store.
import { cpSync } from "node:fs";
cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
