import { useState, type FormEvent } from "react";
import { sb } from "../api";
import { ErrorText, errorText, useLoad } from "../hooks";

/** Topics with their counts and last event; create one (with an optional JSON Schema), delete one. */
export function Topics() {
  const { value, error, reload } = useLoad(() => sb.topics.list());
  const [actionError, setActionError] = useState<string | undefined>();
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
      <CreateTopic onCreated={reload} />
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
                  {t.description && <div className="muted">{t.description}</div>}
                </td>
                <td className="num">{t.event_count.toLocaleString()}</td>
                <td>{t.last_event_at ?? "—"}</td>
                <td>{t.retention_ms === null ? "default" : `${Math.round(t.retention_ms / 3_600_000)} h`}</td>
                <td>
                  <button type="button" className="danger" onClick={() => void remove(t.name)} aria-label={`Delete ${t.name}`}>
                    Delete
                  </button>
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

function CreateTopic({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [schema, setSchema] = useState("");
  const [error, setError] = useState<string | undefined>();
  let schemaError: string | undefined;
  if (schema.trim() !== "") {
    try {
      JSON.parse(schema);
    } catch (e) {
      schemaError = `not JSON: ${(e as Error).message}`;
    }
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (description.trim()) body.description = description.trim();
      if (schema.trim()) body.schema = JSON.parse(schema);
      await sb.topics.create(body as Parameters<typeof sb.topics.create>[0]);
      setName("");
      setDescription("");
      setSchema("");
      onCreated();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="New topic">
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="orders.created" required />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
      </div>
      <label>
        JSON Schema of the data (optional)
        <textarea rows={4} value={schema} onChange={(e) => setSchema(e.target.value)} placeholder='{"type": "object", "required": ["id"]}' />
      </label>
      {schemaError && <p className="error">{schemaError}</p>}
      <button type="submit" disabled={name.trim() === "" || schemaError !== undefined}>
        Create topic
      </button>
      <ErrorText error={error} />
    </form>
  );
}
