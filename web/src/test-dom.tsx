import { act, type ReactElement } from "react";
import { createRoot } from "react-dom/client";

/** React's act() warns unless the environment says it is a test. */
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** A fake API: answers by "METHOD path" (path with its query string, or without it), recording every call. */
export function fakeApi(routes: Record<string, (body: unknown) => { status: number; body?: unknown }>) {
  const calls: Array<{ method: string; path: string; body: unknown; headers: Record<string, string> }> = [];
  globalThis.fetch = (async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const url = new URL(String(input), window.location.href);
    const path = url.pathname + url.search;
    const body = typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    calls.push({ method, path, body, headers: (init.headers ?? {}) as Record<string, string> });
    const route = routes[`${method} ${path}`] ?? routes[`${method} ${url.pathname}`];
    const answer = route ? route(body) : { status: 404, body: { error: "not found", code: "SB_ROUTE_NOT_FOUND", details: `${method} ${path}` } };
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  return calls;
}

/** Renders into a fresh container and lets effects and pending fetches settle. */
export async function render(element: ReactElement): Promise<HTMLElement> {
  const container = document.createElement("div");
  document.body.replaceChildren(container);
  await act(async () => createRoot(container).render(element));
  await settle();
  return container;
}

/** Lets pending promises (fetches, state updates) finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

/** Lets React and pending work run until `check` holds (at most 5 s: a lazily loaded chunk takes a while the first time). */
export async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met within 5 s");
    await act(async () => new Promise((r) => setTimeout(r, 10)));
  }
}

/** Types into an input or textarea as a user would (React listens for input events). */
export async function type(field: HTMLInputElement | HTMLTextAreaElement, value: string): Promise<void> {
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(field) as object, "value")!.set!;
  await act(async () => {
    setter.call(field, value);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

/** The input labelled `text` (the label wraps it, or names it with htmlFor). */
export function field(container: HTMLElement, text: string): HTMLInputElement {
  const label = [...container.querySelectorAll("label")].find((l) => l.textContent?.trim().startsWith(text));
  if (!label) throw new Error(`no field labelled ${JSON.stringify(text)}`);
  const input = label.htmlFor ? container.querySelector<HTMLInputElement>(`#${label.htmlFor}`) : label.querySelector<HTMLInputElement>("input,textarea,select");
  if (!input) throw new Error(`label ${JSON.stringify(text)} has no field`);
  return input;
}

/** The button whose text is `text`. */
export function button(container: HTMLElement, text: string): HTMLButtonElement {
  const found = [...container.querySelectorAll("button")].find((b) => b.textContent?.trim() === text);
  if (!found) throw new Error(`no button ${JSON.stringify(text)}`);
  return found;
}
