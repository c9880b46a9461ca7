// Preloaded into every server under test (with --expose-gc) so the bench can ask for a full GC before reading
// RSS, without adding a route: `kill -USR2 <pid>`. Nothing else changes in the server.
process.on("SIGUSR2", () => {
  if (typeof globalThis.gc === "function") globalThis.gc();
});
