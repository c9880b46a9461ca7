import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A target: on the ratio hub/baseline, or on the hub's own figure. */
export interface Target {
  on: "ratio" | "hub";
  op: ">=" | "<=";
  value: number;
}

/** One line of the results table. */
export interface ResultRow {
  bench: string;
  metric: string;
  unit: string;
  hub: number;
  baseline: number | null;
  /** hub / baseline. */
  ratio: number | null;
  target: Target | null;
  /** null when the row has no target (informational). */
  pass: boolean | null;
  note?: string;
}

/** Builds a row, computing the ratio and the verdict. */
export function row(fields: Omit<ResultRow, "ratio" | "pass">): ResultRow {
  const ratio = fields.baseline === null || fields.baseline === 0 ? null : fields.hub / fields.baseline;
  let pass: boolean | null = null;
  const t = fields.target;
  if (t) {
    const v = t.on === "ratio" ? ratio : fields.hub;
    pass = v !== null && Number.isFinite(v) && (t.op === ">=" ? v >= t.value : v <= t.value);
  }
  return { ...fields, ratio, pass };
}

function num(v: number | null, unit = ""): string {
  if (v === null || !Number.isFinite(v)) return "—";
  const abs = Math.abs(v);
  const s = abs >= 1000 ? Math.round(v).toLocaleString("en-US") : abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
  return unit ? `${s} ${unit}` : s;
}

function targetText(t: Target | null, unit: string): string {
  if (!t) return "(info)";
  const op = t.op === ">=" ? "≥" : "≤";
  return t.on === "ratio" ? `ratio ${op} ${t.value}` : `hub ${op} ${t.value} ${unit}`;
}

/** The results as a fixed-width text table. */
export function formatTable(rows: ResultRow[]): string {
  const header = ["bench", "metric", "hub", "baseline", "hub/base", "target", "result"];
  const lines = rows.map((r) => [
    r.bench,
    r.metric,
    num(r.hub, r.unit),
    num(r.baseline, r.unit),
    r.ratio === null ? "—" : r.ratio.toFixed(2),
    targetText(r.target, r.unit),
    Number.isNaN(r.hub) ? "ERROR" : r.pass === null ? "info" : r.pass ? "PASS" : "MISS",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const right = new Set([2, 3, 4]);
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

/** Writes `bench/results/<timestamp>.json` and `bench/results/latest.json`; returns the first path. */
export function writeResults(dir: string, startedAt: Date, report: unknown): string {
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  const path = join(dir, `${stamp}.json`);
  const text = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(path, text);
  writeFileSync(join(dir, "latest.json"), text);
  return path;
}
