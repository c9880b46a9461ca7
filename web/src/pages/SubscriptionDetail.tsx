import { useState } from "react";
import { sb, type Subscription } from "../api";
import { health, shortTime } from "../format";
import { ErrorText, errorText } from "../hooks";
import { DeliveryLog } from "./DeliveryLog";
import { Replay } from "./Replay";
import { SubscriptionForm } from "./SubscriptionForm";

/**
 * One subscription: edit, pause, resume, delete; its secret on request; a test event; its deliveries; retry the dead;
 * replay a range. A handler (kind `function`) belongs to the application that registers it: the hub refuses to
 * change it (409 `SB_SUBSCRIPTION_READ_ONLY`), so only its deliveries, retry and replay are offered, and a note says why.
 */
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
  const handler = sub.kind === "function";
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState<string | undefined>();
  const [message, setMessage] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  // Bumped after an action, so that the delivery log reads again.
  const [changes, setChanges] = useState(0);
  const run = async (what: () => Promise<string | undefined>) => {
    setError(undefined);
    setMessage(undefined);
    try {
      setMessage(await what());
      onChanged();
      setChanges((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const retryDead = () => run(async () => `${(await sb.subscriptions.retryDead(sub.id)).retried} dead deliveries sent again`);
  const remove = () =>
    window.confirm(`Delete the subscription to ${sub.url}? Its deliveries and attempts go with it.`) &&
    void sb.subscriptions.delete(sub.id).then(onDeleted, (e: unknown) => setError(errorText(e)));

  return (
    <aside className="panel wide" aria-label="Subscription">
      <button type="button" className="link" onClick={onClose}>
        Close
      </button>
      <h2>
        <code>{sub.topic}</code> → {handler ? "handler " : ""}
        <code>{handler ? sub.name : sub.url}</code>
      </h2>
      <p>
        {health(sub)} · {handler ? `priority ${sub.priority} · concurrency ${sub.max_in_flight}` : `max ${sub.max_in_flight} in flight`} · since{" "}
        {shortTime(sub.created_at)}
        {sub.filter && (
          <>
            {" "}
            · filter <code>{sub.filter}</code>
          </>
        )}
      </p>
      {handler && (
        <p className="note">
          An in-process handler: the application that registers it with <code>hub.handle</code> sets its topic, filter and options, and pauses it when it stops
          registering it. Here you can read its deliveries, send its dead ones again and replay a range.
        </p>
      )}
      <div className="actions">
        {!handler && (
          <>
            <button type="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
              Edit
            </button>
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
          </>
        )}
        <button type="button" onClick={() => void retryDead()}>
          Retry dead deliveries
        </button>
        {!handler && (
          <button type="button" className="danger" onClick={remove}>
            Delete
          </button>
        )}
      </div>
      {editing && (
        <SubscriptionForm
          editing={sub}
          onSaved={() => {
            setEditing(false);
            setMessage("Saved");
            onChanged();
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      {secret && (
        <p>
          Signing secret: <code className="token">{secret}</code>
        </p>
      )}
      <Replay subscriptionId={sub.id} onReplayed={() => setChanges((n) => n + 1)} />
      {message && <p role="status">{message}</p>}
      <ErrorText error={error} />
      <DeliveryLog subscriptionId={sub.id} changes={changes} />
    </aside>
  );
}
