import { sb } from "../api";
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
      {value.subs && (
        <section>
          <h2>Failing now</h2>
          {failing.length === 0 ? (
            <p className="muted">Every subscription is healthy.</p>
          ) : (
            <ul>
              {failing.map((s) => (
                <li key={s.id}>
                  <code>{s.url}</code> — {s.active ? `failing since ${s.failing_since}` : `paused${s.disabled_reason ? `: ${s.disabled_reason}` : ""}`}
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
