import { api } from "./api";

/** A bucket of `GET /api/stats/events`. */
export interface EventBucket {
  t: string;
  count: number;
  bytes: number;
}

/** A bucket of `GET /api/stats/deliveries`. */
export interface DeliveryBucket {
  t: string;
  delivered: number;
  failed: number;
  dead: number;
  latency_ms: { sum: number; histogram: Record<string, number> };
}

/** The last `minutes` minutes, one bucket a minute, every minute present (0 where the hub had none). */
export async function lastMinutes(minutes: number) {
  const now = Date.now();
  const from = new Date(Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000);
  const range = `from=${encodeURIComponent(from.toISOString())}&interval=1m`;
  const [events, deliveries] = await Promise.all([
    api<{ buckets: EventBucket[] }>("GET", `/stats/events?${range}`),
    api<{ buckets: DeliveryBucket[] }>("GET", `/stats/deliveries?${range}`).catch(() => undefined), // admin only
  ]);
  const times = Array.from({ length: minutes }, (_, i) => from.getTime() / 1000 + i * 60);
  const at = <B extends { t: string }>(buckets: B[]) => new Map(buckets.map((b) => [Date.parse(b.t) / 1000, b]));
  const ev = at(events.buckets);
  const dl = deliveries && at(deliveries.buckets);
  return {
    times,
    events: times.map((t) => ev.get(t)?.count ?? 0),
    deliveries: dl && {
      delivered: times.map((t) => dl.get(t)?.delivered ?? 0),
      failed: times.map((t) => dl.get(t)?.failed ?? 0),
      dead: times.map((t) => dl.get(t)?.dead ?? 0),
      p50: times.map((t) => quantile(dl.get(t), 0.5)),
      p95: times.map((t) => quantile(dl.get(t), 0.95)),
    },
  };
}

/**
 * A latency quantile of a bucket from its fixed histogram: the upper bound of the histogram bucket where the
 * quantile falls (so an upper estimate); null for a minute without attempts, and for one past the last bound.
 */
export function quantile(bucket: DeliveryBucket | undefined, q: number): number | null {
  if (!bucket) return null;
  const entries = Object.entries(bucket.latency_ms.histogram);
  const total = entries.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const [bound, count] of entries) {
    seen += count;
    if (seen >= q * total) return bound === "+Inf" ? null : Number(bound);
  }
  return null;
}
