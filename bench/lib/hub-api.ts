/** Environment of a hub that may deliver to the loopback receiver. */
export const WEBHOOK_HUB_ENV = { SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true" };

/** One JSON call to a hub's API from the bench runner; throws unless the status is 2xx. */
export async function hubApi<T = unknown>(origin: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Creates a webhook subscription; returns its id. */
export async function createSubscription(origin: string, fields: Record<string, unknown>): Promise<string> {
  return (await hubApi<{ id: string }>(origin, "POST", "/api/subscriptions", fields)).id;
}

/** The number of deliveries in a status, counted page by page (at most `max`). */
export async function countDeliveries(origin: string, params: Record<string, string>, max = 1_000_000): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  while (n < max) {
    const qs = new URLSearchParams({ ...params, limit: "1000", ...(cursor ? { cursor } : {}) });
    const page: { data: unknown[]; next_cursor: string | null } = await hubApi(origin, "GET", `/api/deliveries?${qs}`);
    n += page.data.length;
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return n;
}
