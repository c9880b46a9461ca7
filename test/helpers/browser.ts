import { execFileSync } from "node:child_process";
import { chromium, type Browser, type Page } from "playwright-core";

/**
 * Debian's chromium from the PATH (`.ci/run` installs the package when it is missing); playwright-core drives it,
 * and never downloads a browser.
 */
export function chromiumPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" }).trim().split("\n")[0]!;
  } catch {
    throw new Error("chromium is not on the PATH: install Debian's chromium package (apt-get install chromium), as .ci/run does");
  }
}

/** A headless chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/** A page that records every console error and uncaught exception, for the test to assert none happened. */
export async function newPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  // A step that cannot happen fails on its own within the test timeout, naming what it waited for.
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}
