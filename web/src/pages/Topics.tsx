import { useState, type FormEvent } from "react";
import { sb, type Topic } from "../api";
import { ErrorText, errorText, useLoad } from "../hooks";
import { SchemaProblems, useSchemaCheck } from "../SchemaEditor";

/** Topics with their counts and last event; create one, edit one (description, retention, storage, schema), delete one. */
export function Topics() {
  const { value, error, reload } = useLoad(() => sb.topics.list());
  const [actionError, setActionError] = useState<string | undefined>();
  const [editing, setEditing] = useState<Topic | undefined>();
  const remove = async (name: string) => {
    if (!window.confirm(`Delete topic ${name} and all its events?`)) return;
    try {
      await sb.topics.delete(name);
      reload();
    } catch (e) {
      setActionError(errorText(e));
    }
  };
  return (
    <>
      <TopicForm
        key={editing?.name ?? "new"}
        editing={editing}
        onSaved={() => {
          setEditing(undefined);
          reload();
        }}
        onCancel={() => setEditing(undefined)}
      />
      {(error ?? actionError) && <p className="error">{error ?? actionError}</p>}
      {value && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th className="num">Events</th>
              <th>Last event</th>
              <th>Retention</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {value.map((t) => (
              <tr key={t.name}>
                <td>
                  <code>{t.name}</code>
                  {t.storage === "none" && <span className="muted"> live only</span>}
                  {t.description && <div className="muted">{t.description}</div>}
                </td>
                <td className="num">{t.event_count.toLocaleString()}</td>
                <td>{t.last_event_at ?? "—"}</td>
                <td>{t.retention_ms === null ? "default" : `${Math.round(t.retention_ms / 3_600_000)} h`}</td>
                <td>
                  <div className="actions">
                    <button type="button" onClick={() => setEditing(t)} aria-label={`Edit ${t.name}`}>
                      Edit
                    </button>
                    <button type="button" className="danger" onClick={() => void remove(t.name)} aria-label={`Delete ${t.name}`}>
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {value?.length === 0 && <p className="muted">No topics yet.</p>}
    </>
  );
}

/**
 * The form of a new topic, or of an existing one (`editing`): description, retention (hours; empty for the hub's
 * default, 0 to keep forever), storage (stored, or live only: streamed and never stored; sent only when it differs from
 * the topic's, or, new, from the default) and the data's JSON Schema, checked while typing as JSON and then as a JSON
 * Schema (as the hub checks it), each problem shown with its line, column and path. Saving waits for no problem; the
 * hub has the last word, and its refusal is shown under the form.
 */
function TopicForm({ editing, onSaved, onCancel }: { editing?: Topic; onSaved: () => void; onCancel: () => void }) {
  const [name, setName] = useState(editing?.name ?? "");
  const [description, setDescription] = useState(editing?.description ?? "");
  const [retention, setRetention] = useState(editing?.retention_ms == null ? "" : String(editing.retention_ms / 3_600_000));
  const storedAs = editing?.storage ?? "log";
  const [storage, setStorage] = useState<"log" | "none">(storedAs);
  const [schema, setSchema] = useState(editing?.schema == null ? "" : JSON.stringify(editing.schema, null, 2));
  const [error, setError] = useState<string | undefined>();
  const { problems: schemaProblems } = useSchemaCheck(schema);
  const retentionError = retention.trim() !== "" && !(Number(retention) >= 0) ? "retention must be a number of hours, 0 or more" : undefined;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const fields: Record<string, unknown> = { description: description.trim() || null, schema: schema.trim() ? JSON.parse(schema) : null };
      fields.retention_ms = retention.trim() === "" ? null : Math.round(Number(retention) * 3_600_000);
      if (storage !== storedAs) fields.storage = storage;
      if (editing) await sb.topics.update(editing.name, fields as Parameters<typeof sb.topics.update>[1]);
      // A new topic gets only what was filled in: the rest are the hub's defaults.
      else
        await sb.topics.create({ name: name.trim(), ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) } as Parameters<
          typeof sb.topics.create
        >[0]);
      setName("");
      setDescription("");
      setRetention("");
      setStorage("log");
      setSchema("");
      onSaved();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label={editing ? `Edit topic ${editing.name}` : "New topic"}>
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="orders.created" required readOnly={editing !== undefined} />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label>
          Retention, hours
          <input value={retention} onChange={(e) => setRetention(e.target.value)} placeholder="the hub's default" inputMode="decimal" />
        </label>
        <label>
          Storage
          <select value={storage} onChange={(e) => setStorage(e.target.value === "none" ? "none" : "log")}>
            <option value="log">stored (searchable, delivered)</option>
            <option value="none">live only (streamed, never stored)</option>
          </select>
        </label>
      </div>
      <label>
        JSON Schema of the data (optional)
        <textarea
          rows={schema.split("\n").length > 4 ? 10 : 4}
          value={schema}
          onChange={(e) => setSchema(e.target.value)}
          placeholder='{"type": "object", "required": ["id"]}'
          spellCheck={false}
          aria-invalid={schemaProblems.length > 0}
          aria-describedby={schemaProblems.length > 0 ? "schema-problems" : undefined}
        />
      </label>
      <SchemaProblems id="schema-problems" text={schema} problems={schemaProblems} />
      {retentionError && <p className="error">{retentionError}</p>}
      <button type="submit" disabled={name.trim() === "" || schemaProblems.length > 0 || retentionError !== undefined}>
        {editing ? "Save topic" : "Create topic"}
      </button>{" "}
      {editing && (
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      )}
      <ErrorText error={error} />
    </form>
  );
}
