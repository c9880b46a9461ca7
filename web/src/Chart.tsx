import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** One line of a {@link Chart}. */
export interface Series {
  label: string;
  color: string;
  values: Array<number | null>;
}

/**
 * A time chart with uPlot (about 20 KB gzipped, canvas, fast with thousands of points): `times` in epoch seconds,
 * one line per series. It fits its container's width and follows it.
 */
export function Chart({ title, times, series, height = 180 }: { title: string; times: number[]; series: Series[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height,
        // Points show by themselves where a line is sparse (a latency seen in one minute only).
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5 }))],
        axes: [{}, { size: 50 }],
        legend: { show: true },
      },
      [times, ...series.map((s) => s.values)],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, height]);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s) => `${s.label} ${total(s.values)} in all`).join(", ")}`} />
    </figure>
  );
}

function total(values: Array<number | null>): number {
  return values.reduce<number>((a, v) => a + (v ?? 0), 0);
}
