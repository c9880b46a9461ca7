// `npm run dev`: the hub from source, restarted on change (tsx watch), and the console on Vite's dev server with hot
// reload, its API calls proxied to that hub. Each line of output is prefixed with its side; Ctrl-C stops both, and
// either one exiting stops the other. `npm run dev:hub` and `npm run dev:web` run one side alone.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const port = process.env.PORT ?? "8080";
const hubUrl = process.env.SWITCHBOARD_HUB_URL ?? `http://127.0.0.1:${port}`;
const sides = [
  { name: "hub", color: 36, script: "dev:hub", env: { PORT: port } },
  { name: "web", color: 35, script: "dev:web", env: { SWITCHBOARD_HUB_URL: hubUrl } },
];

const children = sides.map((side) => {
  const child = spawn("npm", ["run", "--silent", side.script], {
    env: { ...process.env, ...side.env, FORCE_COLOR: process.stdout.isTTY ? "1" : "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tag = process.stdout.isTTY ? `\x1b[${side.color}m${side.name}\x1b[0m` : side.name;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => process.stdout.write(`${tag} | ${line}\n`));
  }
  child.on("exit", (code, signal) => {
    process.stdout.write(`${tag} | exited (${signal ?? `code ${code}`}); stopping\n`);
    stop(code ?? 1);
  });
  return child;
});

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
