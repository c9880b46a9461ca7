import { useEffect, useState } from "react";
import { PAGES_BASE } from "./api";

/** The console's page path (without {@link PAGES_BASE}), kept in sync with the address bar. */
export function usePath(): string {
  const [path, setPath] = useState(current);
  useEffect(() => {
    const update = () => setPath(current());
    window.addEventListener("popstate", update);
    window.addEventListener("sb:navigate", update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("sb:navigate", update);
    };
  }, []);
  return path;
}

function current(): string {
  const path = window.location.pathname.slice(PAGES_BASE.length) || "/";
  return path;
}

/** Goes to a page of the console without reloading; `replace` changes the address without a new history entry. */
export function navigate(path: string, { replace = false } = {}): void {
  if (replace) window.history.replaceState(null, "", `${PAGES_BASE}${path}`);
  else window.history.pushState(null, "", `${PAGES_BASE}${path}`);
  window.dispatchEvent(new Event("sb:navigate"));
}

/** Props of a link to a console page: a real href (open in a new tab works) and client-side navigation. */
export function linkTo(path: string) {
  return {
    href: `${PAGES_BASE}${path}`,
    onClick(e: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean; shiftKey: boolean; button: number }) {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      navigate(path);
    },
  };
}
