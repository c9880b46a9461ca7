import { useEffect } from "react";
import { sb } from "../api";
import { Chart } from "../Chart";
import { health } from "../format";
import { lastMinutes } from "../stats";
import { useLoad } from "../hooks";

interface Health {
  status: string;
  store: string;
  streams: number;
}

/** The hub at a glance: store, open streams, topics and events, subscriptions failing now. */
export function Overview() {
  const { value, error } = useLoad(async () => {
    const health = (await fetch("/health").then((r) => r.json())) as Health;
    const topics = await sb.topics.list().catch(() => undefined);
    const subs = await sb.subscriptions.list().catch(() => undefined);
    return { health, topics, subs };
  });
  if (error) return <p className="error">{error}</p>;
  if (!value) return <p className="muted">Loading…</p>;
  const failing = value.subs?.filter((s) => s.failing_since !== null || !s.active) ?? [];
  const events = value.topics?.reduce((n, t) => n + t.event_count, 0);
  return (
    <>
      <div className="cards">
        <Card label="Store" value={value.health.store} />
        <Card label="Open streams" value={value.health.streams} />
        {value.topics && <Card label="Topics" value={value.topics.length} />}
        {events !== undefined && <Card label="Events stored" value={events} />}
        {value.subs && <Card label="Subscriptions" value={value.subs.length} />}
      </div>
      <Charts />
      {value.subs && (
        <section>
          <h2>Failing now</h2>
          {failing.length === 0 ? (
            <p className="muted">Every subscription is healthy.</p>
          ) : (
            <ul>
              {failing.map((s) => (
                <li key={s.id}>
                  {s.kind === "function" ? "handler " : ""}
                  <code>{s.kind === "function" ? s.name : s.url}</code> — {health(s)}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </>
  );
}

function Card({ label, value }: { label: string; value: string | number }) {
  return (
    <div className="card">
      <div className="muted">{label}</div>
      <div className="big">{typeof value === "number" ? value.toLocaleString() : value}</div>
    </div>
  );
}

/** The last hour from the rollups, a point a minute, refreshed every 30 s. */
function Charts() {
  const { value, error, reload } = useLoad(() => lastMinutes(60));
  useEffect(() => {
    const timer = setInterval(reload, 30_000);
    return () => clearInterval(timer);
  }, [reload]);
  if (error) return <p className="error">{error}</p>;
  if (!value) return null;
  return (
    <section className="charts">
      <Chart title="Events per minute" times={value.times} series={[{ label: "events", color: "#2754c5", values: value.events }]} />
      {value.deliveries && (
        <>
          <Chart
            title="Delivery attempts per minute"
            times={value.times}
            series={[
              { label: "delivered", color: "#1a7f37", values: value.deliveries.delivered },
              { label: "failed", color: "#bf8700", values: value.deliveries.failed },
              { label: "dead", color: "#b42318", values: value.deliveries.dead },
            ]}
          />
          <Chart
            title="Attempt latency, ms (upper bound of its histogram bucket)"
            times={value.times}
            series={[
              { label: "p50", color: "#2754c5", values: value.deliveries.p50 },
              { label: "p95", color: "#8250df", values: value.deliveries.p95 },
            ]}
          />
        </>
      )}
    </section>
  );
}
