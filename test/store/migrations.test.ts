import { describe, expect, it } from "vitest";
import { loadMigrations } from "../../src/store/migrate.js";

describe("migrations", () => {
  it("have the same numbers and names in both dialects", () => {
    const names = (dialect: "sqlite" | "postgres") => loadMigrations(dialect).map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`);
    expect(names("postgres")).toEqual(names("sqlite"));
    expect(names("sqlite").length).toBeGreaterThan(0);
  });
});
