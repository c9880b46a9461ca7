import { useCallback, useEffect, useState, type ReactElement } from "react";
import { api, type Session } from "./api";
import { errorText } from "./hooks";
import { Events } from "./pages/Events";
import { Keys } from "./pages/Keys";
import { Overview } from "./pages/Overview";
import { SignIn } from "./pages/SignIn";
import { Subscriptions } from "./pages/Subscriptions";
import { Tail } from "./pages/Tail";
import { Topics } from "./pages/Topics";
import { linkTo, usePath } from "./router";

interface Page {
  path: string;
  title: string;
  admin: boolean;
  render: () => ReactElement;
}

const PAGES: Page[] = [
  { path: "/", title: "Overview", admin: false, render: () => <Overview /> },
  { path: "/topics", title: "Topics", admin: true, render: () => <Topics /> },
  { path: "/search", title: "Events", admin: false, render: () => <Events /> },
  { path: "/tail", title: "Live tail", admin: false, render: () => <Tail /> },
  { path: "/subscriptions", title: "Subscriptions", admin: true, render: () => <Subscriptions /> },
  { path: "/keys", title: "Keys", admin: true, render: () => <Keys /> },
];

/** The console: the session first (sign-in when auth is on and there is none), then the page of the address. */
export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = useCallback(() => {
    api<Session>("GET", "/auth/session").then(setSession, (e: unknown) => setError(errorText(e)));
  }, []);
  useEffect(load, [load]);

  if (error) return <p className="error">The hub did not answer: {error}</p>;
  if (!session) return <p className="muted">Loading…</p>;
  if (!session.signed_in) return <SignIn onSignedIn={setSession} />;

  const isAdmin = session.scopes.includes("admin");
  const pages = PAGES.filter((p) => isAdmin || !p.admin);
  // A page owns the paths below its own: /search/evt_… is the events page with that event open.
  const page = pages.find((p) => p.path === path || (p.path !== "/" && path.startsWith(`${p.path}/`))) ?? pages[0]!;
  const signOut = async () => {
    await api("POST", "/auth/logout");
    load();
  };
  return (
    <div className="shell">
      <header>
        <strong className="brand">Switchboard</strong>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a key={p.path} {...linkTo(p.path)} aria-current={p === page ? "page" : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        {session.auth && (
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        )}
      </header>
      {!session.auth && (
        <p className="banner" role="status">
          Auth is off: anyone who can reach this hub can use it. Create an API key to turn it on.
        </p>
      )}
      <main>
        <h1>{page.title}</h1>
        {page.render()}
      </main>
    </div>
  );
}
