import { useState, type FormEvent } from "react";
import { sb, type ApiKey } from "../api";
import { errorText, useLoad } from "../hooks";

/** API keys: create one (its token is shown once) and revoke. */
export function Keys() {
  const { value, error, reload } = useLoad(() => sb.keys.list());
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState("admin");
  const [created, setCreated] = useState<ApiKey | undefined>();
  const [actionError, setActionError] = useState<string | undefined>();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setActionError(undefined);
    try {
      const key = await sb.keys.create({ name: name.trim() || null, scopes: scopes.split(/[\s,]+/).filter(Boolean) });
      setCreated(key);
      setName("");
      reload();
    } catch (err) {
      setActionError(errorText(err));
    }
  };
  const revoke = async (k: ApiKey) => {
    if (!window.confirm(`Revoke key ${k.name ?? k.id}? Requests with it fail from now on.`)) return;
    try {
      await sb.keys.revoke(k.id);
      reload();
    } catch (err) {
      setActionError(errorText(err));
    }
  };
  return (
    <>
      <form className="panel" onSubmit={(e) => void create(e)} aria-label="New key">
        <div className="row">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            Scopes
            <input value={scopes} onChange={(e) => setScopes(e.target.value)} placeholder="admin, publish:orders.*, subscribe:**" />
          </label>
        </div>
        <button type="submit">Create key</button>
      </form>
      {created?.token && (
        <p className="panel notice" role="status">
          New key <strong>{created.name ?? created.id}</strong>: <code className="token">{created.token}</code> — copy it now, it is not shown again.
        </p>
      )}
      {(error ?? actionError) && <p className="error">{error ?? actionError}</p>}
      {value && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Scopes</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {value.map((k) => (
              <tr key={k.id}>
                <td>{k.name ?? <span className="muted">{k.id}</span>}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.scopes.join(", ")}</td>
                <td>{k.created_at}</td>
                <td>
                  {k.revoked_at ? (
                    <span className="muted">revoked</span>
                  ) : (
                    <button type="button" className="danger" onClick={() => void revoke(k)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
