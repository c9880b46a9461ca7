import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Imports a module of the built hub (`dist/`, which bench/run.ts builds first), so the bench's children use the
 * very code the hub under test runs. Children run with the repository root as their working directory.
 * @example const { newEventId } = await importDist<typeof import("../../src/ids.js")>("ids.js");
 */
export async function importDist<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(join(process.cwd(), "dist", file)).href)) as T;
}
