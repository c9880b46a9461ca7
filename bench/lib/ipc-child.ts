/** A command a bench child runs for its parent (see `driveOverIpc` in processes.ts). */
export type IpcHandler = (args: never) => Promise<unknown>;

/**
 * The child side of the bench's IPC: answers each `{id, command, args}` from the parent with `{id, ok, result}` or
 * `{id, ok: false, error}`, and exits (after `onDisconnect`) when the parent goes away or closes the channel.
 */
export function serveOverIpc(handlers: Record<string, IpcHandler>, onDisconnect: () => void = () => {}): void {
  process.on("message", (message: { id: number; command: string; args: never }) => {
    const handler = handlers[message.command];
    const reply = (body: { ok: boolean; result?: unknown; error?: string }) => process.send?.({ id: message.id, ...body });
    if (!handler) {
      reply({ ok: false, error: `unknown command ${message.command}` });
      return;
    }
    handler(message.args).then(
      (result) => reply({ ok: true, result }),
      (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.on("disconnect", () => {
    onDisconnect();
    process.exit(0);
  });
}
