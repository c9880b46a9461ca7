// The soak's report: the verdict on RSS and event-loop delay after warm-up, the table, the CSV and the SVG plot
// (written here, no plotting dependency). Used by scripts/soak.mjs.

/** One sample: seconds since start, RSS in MiB, p99 event-loop delay in ms, and the load's counters. */
export const COLUMNS = [
  "t_s",
  "rss_mib",
  "loop_p99_ms",
  "events_per_s",
  "post_errors",
  "stream_frames_per_s",
  "reconnects",
  "webhooks_ok",
  "webhooks_failed",
  "dead",
];

/** Mean of a column over samples. */
function mean(samples, key) {
  return samples.length === 0 ? NaN : samples.reduce((sum, s) => sum + s[key], 0) / samples.length;
}

/**
 * Flat after warm-up: the first third is warm-up; the last third's mean RSS may exceed the middle third's by at most
 * `rssGrowth` (a fraction) plus `rssSlackMib`, and its mean p99 delay the middle third's by `delayFactor` times plus
 * `delaySlackMs`. Returns the figures and whether each held.
 */
export function verdict(samples, bounds) {
  const third = Math.floor(samples.length / 3);
  const middle = samples.slice(third, 2 * third);
  const last = samples.slice(2 * third);
  const rss = { middle: mean(middle, "rss_mib"), last: mean(last, "rss_mib") };
  const delay = { middle: mean(middle, "loop_p99_ms"), last: mean(last, "loop_p99_ms") };
  const rssLimit = rss.middle * (1 + bounds.rssGrowth) + bounds.rssSlackMib;
  const delayLimit = delay.middle * bounds.delayFactor + bounds.delaySlackMs;
  return {
    enough: third >= 2,
    rss: { ...rss, limit: rssLimit, flat: rss.last <= rssLimit },
    delay: { ...delay, limit: delayLimit, flat: delay.last <= delayLimit },
  };
}

/** A fixed-width table row. */
export function tableRow(values) {
  return values.map((v) => String(typeof v === "number" ? round(v) : v).padStart(11)).join(" ");
}

function round(v) {
  return Number.isInteger(v) ? v : Math.round(v * 10) / 10;
}

export function toCsv(samples) {
  return [COLUMNS.join(","), ...samples.map((s) => COLUMNS.map((c) => round(s[c])).join(","))].join("\n") + "\n";
}

/** Two panels (RSS, p99 event-loop delay) over time, with the thirds marked. */
export function toSvg(samples, title) {
  const width = 760;
  const panelHeight = 180;
  const left = 60;
  const right = 20;
  const top = 40;
  const gap = 50;
  const height = top + 2 * panelHeight + gap + 50;
  const tMax = Math.max(1, ...samples.map((s) => s.t_s));
  const x = (t) => left + ((width - left - right) * t) / tMax;
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${left}" y="20" font-size="14">${escapeXml(title)}</text>`);
  const panels = [
    { key: "rss_mib", label: "RSS (MiB)", color: "#1f77b4" },
    { key: "loop_p99_ms", label: "event-loop delay p99 (ms)", color: "#d62728" },
  ];
  panels.forEach((panel, i) => {
    const y0 = top + i * (panelHeight + gap);
    const values = samples.map((s) => s[panel.key]);
    const yMax = niceMax(Math.max(1, ...values));
    const y = (v) => y0 + panelHeight - (panelHeight * v) / yMax;
    parts.push(`<rect x="${left}" y="${y0}" width="${width - left - right}" height="${panelHeight}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (yMax * k) / 4;
      parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${round(v)}</text>`);
    }
    for (const frac of [1 / 3, 2 / 3]) {
      const xt = x(tMax * frac);
      parts.push(`<line x1="${xt}" x2="${xt}" y1="${y0}" y2="${y0 + panelHeight}" stroke="#bbb" stroke-dasharray="4 3"/>`);
    }
    parts.push(`<text x="${left}" y="${y0 - 6}">${panel.label}</text>`);
    const points = samples.map((s) => `${x(s.t_s).toFixed(1)},${y(s[panel.key]).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${points}" fill="none" stroke="${panel.color}" stroke-width="1.5"/>`);
  });
  const axisY = top + 2 * panelHeight + gap;
  for (let k = 0; k <= 5; k++) {
    const t = (tMax * k) / 5;
    const label = tMax < 600 ? `${(t / 60).toFixed(1)} min` : `${Math.round(t / 60)} min`;
    parts.push(`<text x="${x(t)}" y="${axisY + 18}" text-anchor="middle">${label}</text>`);
  }
  parts.push(`<text x="${left}" y="${axisY + 38}" fill="#666">dashed lines: end of warm-up, start of the last third (compared with the middle one)</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function niceMax(v) {
  const magnitude = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= v) return step * magnitude;
  return 10 * magnitude;
}

function escapeXml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
