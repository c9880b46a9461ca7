import type { ResultRow } from "./report.js";

/** What every bench is given by bench/run.ts. */
export interface BenchContext {
  /** Shorter durations and fewer samples: a smoke run, not numbers to quote. */
  quick: boolean;
  /** Rounds per arm, run interleaved ABBA. */
  rounds: number;
  /** A new empty directory under this run's temp root. */
  freshDir(label: string): string;
  /** Where the hub started for `label` writes its CPU profile, when `--cpu-prof` is on. */
  profileDir(label: string): string | undefined;
  log(message: string): void;
}

/** What a bench hands back: table rows, and the raw figures of every round for the JSON report. */
export interface BenchOutcome {
  rows: ResultRow[];
  details: unknown;
}

export interface Bench {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchOutcome>;
}
