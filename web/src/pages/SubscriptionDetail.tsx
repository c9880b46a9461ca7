import { useState, type FormEvent } from "react";
import { sb, type Subscription } from "../api";
import { ErrorText, errorText, useLoad } from "../hooks";
import { health } from "./Subscriptions";

/** One subscription: pause, resume, delete; its secret on request; its deliveries; retry the dead; replay a range. */
export function SubscriptionDetail({
  sub,
  onChanged,
  onClose,
  onDeleted,
}: {
  sub: Subscription;
  onChanged: () => void;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const [status, setStatus] = useState("");
  const deliveries = useLoad(() => sb.deliveries.page({ subscription: sub.id, status: status || undefined, limit: 50 }), [sub.id, status]);
  const [secret, setSecret] = useState<string | undefined>();
  const [message, setMessage] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const run = async (what: () => Promise<string | undefined>) => {
    setError(undefined);
    setMessage(undefined);
    try {
      setMessage(await what());
      onChanged();
      deliveries.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const retryDead = () => run(async () => `${(await sb.subscriptions.retryDead(sub.id)).retried} dead deliveries sent again`);
  const remove = () =>
    window.confirm(`Delete the subscription to ${sub.url}? Its deliveries and attempts go with it.`) &&
    void sb.subscriptions.delete(sub.id).then(onDeleted, (e: unknown) => setError(errorText(e)));

  return (
    <aside className="panel" aria-label="Subscription">
      <button type="button" className="link" onClick={onClose}>
        Close
      </button>
      <h2>
        <code>{sub.topic}</code> → <code>{sub.url}</code>
      </h2>
      <p>
        {health(sub)} · max {sub.max_in_flight} in flight · since {sub.created_at}
      </p>
      <div className="actions">
        <button
          type="button"
          onClick={() => void run(async () => (await (sub.active ? sb.subscriptions.pause(sub.id) : sb.subscriptions.resume(sub.id)), undefined))}
        >
          {sub.active ? "Pause" : "Resume"}
        </button>
        <button type="button" onClick={() => void sb.subscriptions.secret(sub.id).then(setSecret, (e: unknown) => setError(errorText(e)))}>
          Reveal secret
        </button>
        <button
          type="button"
          onClick={() =>
            window.confirm("Rotate the signing secret? The current one keeps signing too for a day, so receivers can switch.") &&
            void run(async () => {
              const r = await sb.subscriptions.rotateSecret(sub.id);
              setSecret(r.secret);
              return `New secret; the previous one signs too until ${r.previous_secret_expires_at}`;
            })
          }
        >
          Rotate secret
        </button>
        <button
          type="button"
          onClick={() =>
            void run(async () => {
              const t = await sb.subscriptions.test(sub.id);
              return `Test event: ${t.ok ? "accepted" : "refused"}${t.status === null ? "" : `, ${t.status}`}${t.error ? `: ${t.error}` : ""}, ${t.latency_ms} ms`;
            })
          }
        >
          Send test event
        </button>
        <button type="button" onClick={() => void retryDead()}>
          Retry dead deliveries
        </button>
        <button type="button" className="danger" onClick={remove}>
          Delete
        </button>
      </div>
      {secret && (
        <p>
          Signing secret: <code className="token">{secret}</code>
        </p>
      )}
      <Replay onReplay={(from, to) => run(async () => `${(await sb.subscriptions.replay(sub.id, { from, to })).replayed} events replayed`)} />
      {message && <p role="status">{message}</p>}
      <ErrorText error={error} />
      <h3>Deliveries</h3>
      <label>
        Status
        <select value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">all</option>
          <option value="pending">pending</option>
          <option value="retrying">retrying</option>
          <option value="delivered">delivered</option>
          <option value="dead">dead</option>
        </select>
      </label>
      <button type="button" onClick={deliveries.reload}>
        Refresh
      </button>
      {deliveries.error && <p className="error">{deliveries.error}</p>}
      <table aria-label="Deliveries">
        <thead>
          <tr>
            <th>Created</th>
            <th>Status</th>
            <th className="num">Attempts</th>
            <th>Last answer</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.value?.data.map((d) => (
            <tr key={d.id}>
              <td>{d.created_at}</td>
              <td>{d.status}</td>
              <td className="num">{d.attempt_count}</td>
              <td>{d.last_status ?? d.last_error ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {deliveries.value?.data.length === 0 && <p className="muted">No deliveries.</p>}
    </aside>
  );
}

function Replay({ onReplay }: { onReplay: (from: string, to: string) => Promise<void> }) {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const range = [new Date(from).toISOString(), new Date(to).toISOString()] as const;
    if (!window.confirm(`Send every event from ${range[0]} to ${range[1]} to this subscription again?`)) return;
    void onReplay(...range);
  };
  return (
    <form onSubmit={submit} aria-label="Replay" className="row">
      <label>
        Replay from
        <input type="datetime-local" step="1" value={from} onChange={(e) => setFrom(e.target.value)} required />
      </label>
      <label>
        to
        <input type="datetime-local" step="1" value={to} onChange={(e) => setTo(e.target.value)} required />
      </label>
      <button type="submit" disabled={!from || !to}>
        Replay
      </button>
    </form>
  );
}
