import { sb, type EventEnvelope } from "./api";
import { useLoad } from "./hooks";
import { linkTo } from "./router";

/**
 * One event: its JSON, and each delivery made of it with every attempt, oldest first, as a timeline (when, the
 * answer or the error, how long it took). Its page, `/search/<id>`, is a link that opens it again.
 */
export function EventPanel({ event, onClose }: { event: EventEnvelope; onClose: () => void }) {
  const timeline = useLoad(async () => {
    const detail = await sb.events.get(event.id);
    return Promise.all(detail.deliveries.map((d) => sb.deliveries.get(d.id)));
  }, [event.id]);
  return (
    <aside className="panel" aria-label="Event">
      <div className="actions">
        <button type="button" className="link" onClick={onClose}>
          Close
        </button>
        <a {...linkTo(`/search/${event.id}`)}>Event page</a>
      </div>
      <pre>{JSON.stringify(event, null, 2)}</pre>
      <h3>Deliveries</h3>
      {timeline.error && <p className="error">{timeline.error}</p>}
      {timeline.value?.length === 0 && <p className="muted">None: no subscription selected it.</p>}
      {timeline.value?.map((d) => (
        <section key={d.id} aria-label={`Delivery ${d.id}`}>
          <p>
            <code>{d.subscription_id}</code> · {d.status}
            {d.next_attempt_at && ` · next attempt ${d.next_attempt_at}`}
          </p>
          <ol className="timeline">
            {d.attempts?.map((a, i) => (
              <li key={i} className={a.status_code !== null && a.status_code < 300 ? "ok" : "failed"}>
                <span>{a.attempted_at}</span> {a.status_code ?? a.error} <span className="muted">{a.latency_ms} ms</span>
              </li>
            ))}
          </ol>
        </section>
      ))}
    </aside>
  );
}
