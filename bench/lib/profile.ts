import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { ROOT } from "./processes.js";

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's share of a CPU profile's self time. */
export interface HotFunction {
  function: string;
  location: string;
  selfMs: number;
  selfPct: number;
}

/**
 * The functions with the most self time in a V8 `.cpuprofile`, merged by name and location, as shares of the busy
 * time: `(idle)` (the thread waiting) is left out, else a thread idle most of the run shows nothing but that.
 */
export function topSelfTime(path: string, limit = 15): { totalMs: number; busyMs: number; top: HotFunction[] } {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byNode = new Map<number, CpuProfile["nodes"][number]>(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; location: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    const frame = byNode.get(id)!.callFrame;
    if (frame.functionName === "(idle)") {
      idleUs += us;
      return;
    }
    const url = frame.url.startsWith("file://") ? relative(ROOT, new URL(frame.url).pathname) : frame.url;
    const location = url ? `${url.replace(/^.*node_modules\//, "~/")}:${frame.lineNumber + 1}` : "";
    const fn = frame.functionName || "(anonymous)";
    const key = `${fn}@${location}`;
    const entry = self.get(key) ?? { fn, location, us: 0 };
    entry.us += us;
    self.set(key, entry);
  });
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ function: e.fn, location: e.location, selfMs: e.us / 1000, selfPct: (100 * e.us) / (totalUs - idleUs) }));
  return { totalMs: totalUs / 1000, busyMs: (totalUs - idleUs) / 1000, top };
}
