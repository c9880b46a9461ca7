import { HubError } from "../../errors.js";

/**
 * A write SQLite refused for want of space becomes SB_STORE_FULL (507); anything else passes through unchanged.
 * SQLITE_FULL is the disk (or `max_page_count`) being full; an I/O error with ENOSPC is the same seen by the VFS.
 */
export function translateSqliteError(error: unknown): unknown {
  if (error instanceof HubError) return error;
  const code = (error as { code?: string })?.code ?? "";
  const full = code === "SQLITE_FULL" || (code.startsWith("SQLITE_IOERR") && /ENOSPC|no space|disk is full/i.test((error as Error).message ?? ""));
  return full ? new HubError("SB_STORE_FULL", "the database's disk is full; nothing was stored, retry once space is freed", { cause: error }) : error;
}
