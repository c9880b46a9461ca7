import { useState, type FormEvent } from "react";
import { sb, type Subscription } from "../api";
import { ErrorText, errorText } from "../hooks";

interface Fields {
  topic: string;
  url: string;
  filter: string;
  retry: string;
  ordering: string;
  start: string;
}

/** The form's fields of a subscription (a new one: empty). */
function fieldsOf(sub: Subscription | undefined): Fields {
  return {
    topic: sub?.topic ?? "",
    url: sub?.url ?? "",
    filter: sub?.filter ?? "",
    retry: sub ? sub.retry.schedule.join(", ") : "",
    ordering: sub?.ordering ?? "none",
    start: "now",
  };
}

/** What the form can tell before the hub does: a url that is not one, retry delays that are not seconds. */
export function subscriptionFormProblem(f: Fields): string | undefined {
  if (f.url.trim() !== "" && !URL.canParse(f.url.trim()))
    return "the destination must be a full url, like https://example.com/hook or nats://host:4222/subject";
  const delays = retryDelays(f.retry);
  if (delays && (delays.some((d) => !Number.isFinite(d) || d < 0) || delays.length > 50)) return "retry delays must be 1 to 50 numbers of seconds, 0 or more";
  return undefined;
}

function retryDelays(text: string): number[] | undefined {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.length === 0 ? undefined : parts.map(Number);
}

/**
 * Creates a subscription, or edits one (`editing`): topic or pattern, a destination url of any kind (the scheme picks
 * it), a CEL filter, retry delays and ordering; a new one also where it starts. The form checks what it can while
 * typing and the hub the rest: its refusal (a CEL filter's with a caret under the position) is shown under the form.
 * An edit sends only the fields changed.
 */
export function SubscriptionForm({ editing, onSaved, onCancel }: { editing?: Subscription; onSaved: (s: Subscription) => void; onCancel?: () => void }) {
  const [form, setForm] = useState(() => fieldsOf(editing));
  const [error, setError] = useState<string | undefined>();
  const problem = subscriptionFormProblem(form);
  const field = (name: keyof Fields) => ({
    value: form[name],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [name]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const wanted: Record<string, unknown> = {
        topic: form.topic.trim(),
        url: form.url.trim(),
        filter: form.filter.trim() || null,
        ordering: form.ordering,
      };
      const delays = retryDelays(form.retry);
      if (delays) wanted.retry = { schedule: delays };
      let saved: Subscription;
      if (editing) {
        const before = fieldsOf(editing);
        const changes = Object.fromEntries(Object.entries(wanted).filter(([k]) => form[k as keyof Fields].trim() !== before[k as keyof Fields].trim()));
        saved = await sb.subscriptions.update(editing.id, changes as Parameters<typeof sb.subscriptions.update>[1]);
      } else {
        if (wanted.filter === null) delete wanted.filter;
        saved = await sb.subscriptions.create({ ...wanted, start: form.start } as Parameters<typeof sb.subscriptions.create>[0]);
        setForm(fieldsOf(undefined));
      }
      onSaved(saved);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label={editing ? "Edit subscription" : "New subscription"}>
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
        {!editing && (
          <label>
            Start
            <select {...field("start")}>
              <option value="now">new events</option>
              <option value="beginning">every stored event</option>
            </select>
          </label>
        )}
      </div>
      {problem && <p className="error">{problem}</p>}
      <button type="submit" disabled={!form.topic.trim() || !form.url.trim() || problem !== undefined}>
        {editing ? "Save subscription" : "Create subscription"}
      </button>{" "}
      {onCancel && (
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      )}
      <ErrorText error={error} />
    </form>
  );
}
