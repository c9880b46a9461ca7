import { useState, type FormEvent } from "react";
import { sb, type Subscription } from "../api";
import { ErrorText, errorText, useLoad } from "../hooks";
import { SubscriptionDetail } from "./SubscriptionDetail";

/** Subscriptions with their health; create one; open one for its secret, deliveries, retry and replay. */
export function Subscriptions() {
  const { value, error, reload } = useLoad(() => sb.subscriptions.list());
  const [openId, setOpenId] = useState<string | undefined>();
  if (error) return <p className="error">{error}</p>;
  if (!value) return <p className="muted">Loading…</p>;
  const open = value.find((s) => s.id === openId);
  return (
    <>
      <CreateSubscription
        onCreated={(s) => {
          reload();
          setOpenId(s.id);
        }}
      />
      <div className="split">
        <table>
          <thead>
            <tr>
              <th>Health</th>
              <th>Topic</th>
              <th>Destination</th>
              <th>Filter</th>
            </tr>
          </thead>
          <tbody>
            {value.map((s) => (
              <tr
                key={s.id}
                tabIndex={0}
                aria-selected={s.id === openId}
                onClick={() => setOpenId(s.id)}
                onKeyDown={(k) => k.key === "Enter" && setOpenId(s.id)}
              >
                <td>{health(s)}</td>
                <td>
                  <code>{s.topic}</code>
                </td>
                <td>
                  <code>{s.url}</code>
                </td>
                <td>
                  {s.filter ? (
                    // A filter in another syntax (switch's) shows as written, its CEL translation on hover.
                    <code title={s.filter_syntax === "cel" ? undefined : `CEL: ${s.filter_cel ?? ""}`}>{s.filter}</code>
                  ) : (
                    "—"
                  )}
                  {s.filter && s.filter_syntax !== "cel" ? ` (${s.filter_syntax})` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {open && (
          <SubscriptionDetail
            key={open.id}
            sub={open}
            onChanged={reload}
            onClose={() => setOpenId(undefined)}
            onDeleted={() => {
              setOpenId(undefined);
              reload();
            }}
          />
        )}
      </div>
      {value.length === 0 && <p className="muted">No subscriptions yet.</p>}
    </>
  );
}

/** What the list shows of a subscription's health. */
export function health(s: Subscription): string {
  if (!s.active) return s.disabled_reason ? `disabled: ${s.disabled_reason}` : "paused";
  return s.failing_since ? `failing since ${s.failing_since}` : "healthy";
}

function CreateSubscription({ onCreated }: { onCreated: (s: Subscription) => void }) {
  const [form, setForm] = useState({ topic: "", url: "", filter: "", ordering: "none", start: "now", retry: "" });
  const [error, setError] = useState<string | undefined>();
  const field = (name: keyof typeof form) => ({
    value: form[name],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [name]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body: Record<string, unknown> = { topic: form.topic.trim(), url: form.url.trim(), ordering: form.ordering, start: form.start };
      if (form.filter.trim()) body.filter = form.filter.trim();
      if (form.retry.trim())
        body.retry = {
          schedule: form.retry
            .split(/[\s,]+/)
            .filter(Boolean)
            .map(Number),
        };
      const created = await sb.subscriptions.create(body as Parameters<typeof sb.subscriptions.create>[0]);
      setForm({ ...form, topic: "", url: "", filter: "", retry: "" });
      onCreated(created);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="New subscription">
      <div className="row">
        <label>
          Topic or pattern
          <input {...field("topic")} placeholder="orders.*" required />
        </label>
        <label>
          Destination url
          <input {...field("url")} placeholder="https://… · nats://… · amqp://… · redis://… · mqtt://…" required />
        </label>
      </div>
      <div className="row">
        <label>
          CEL filter (optional)
          <input {...field("filter")} placeholder="data.total > 100" />
        </label>
        <label>
          Retry delays, seconds (optional)
          <input {...field("retry")} placeholder="default: 0, 5, 30, 120, 600, …" />
        </label>
        <label>
          Ordering
          <select {...field("ordering")}>
            <option value="none">none</option>
            <option value="key">by key</option>
          </select>
        </label>
        <label>
          Start
          <select {...field("start")}>
            <option value="now">new events</option>
            <option value="beginning">every stored event</option>
          </select>
        </label>
      </div>
      <button type="submit" disabled={!form.topic.trim() || !form.url.trim()}>
        Create subscription
      </button>
      <ErrorText error={error} />
    </form>
  );
}
