import { useState, type FormEvent } from "react";
import { api, type Session } from "../api";
import { ErrorText, errorText } from "../hooks";

/** Sign-in with an API key or a JWT; the hub keeps it in an HttpOnly cookie. */
export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const { scopes } = await api<{ scopes: string[] }>("POST", "/auth/login", { token: token.trim() });
      onSignedIn({ auth: true, signed_in: true, scopes });
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <main className="signin">
      <h1>Switchboard</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="token">API key or token</label>
        <input id="token" type="password" autoComplete="off" autoFocus value={token} onChange={(e) => setToken(e.target.value)} placeholder="sbk_…" />
        <button type="submit" disabled={token.trim() === ""}>
          Sign in
        </button>
        <ErrorText error={error} />
      </form>
    </main>
  );
}
