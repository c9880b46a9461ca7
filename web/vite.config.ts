import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev:web`: the console on Vite's dev server, its API calls proxied to a hub (SWITCHBOARD_HUB_URL, default
// the hub's own default address).
const hub = process.env.SWITCHBOARD_HUB_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "../dist/console", emptyOutDir: true, sourcemap: false },
  server: { proxy: { "/api": { target: hub, ws: false }, "/events": hub, "/health": hub, "/ready": hub } },
});
