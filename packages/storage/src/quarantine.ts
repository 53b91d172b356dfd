import { existsSync, renameSync } from "node:fs";
import type { Logger } from "@vigil/common";
import { checkDbFile, dayFilePaths } from "./storage-check.js";

/** A day file moved aside because it failed to open or failed its check. */
export interface QuarantinedFile {
  /** Where it was, `samples/YYYY-MM-DD.db`. */
  readonly path: string;
  /** Where it is now, `samples/YYYY-MM-DD.db.quarantined-<UTC stamp>`; its -wal and -shm follow. */
  readonly movedTo: string;
  /** What SQLite said. */
  readonly problems: readonly string[];
}

export interface QuarantineOptions {
  /** `quick_check` (default, linear in the file size) or the full `integrity_check`. */
  readonly quick?: boolean | undefined;
  /** Names the moved files; injected so tests and logs agree. */
  readonly nowMs: number;
  readonly logger?: Logger | undefined;
  /** Called once per quarantined file, after the move: the hook for an alert event. */
  readonly onQuarantine?: ((file: QuarantinedFile) => void) | undefined;
}

/**
 * Checks every day file and renames each one that fails (with its `-wal` and `-shm`, so SQLite never
 * pairs a stray `-wal` with another file) to `<name>.quarantined-<stamp>`, which the engine ignores: the
 * server then serves every other day. Logged at error level; the file is kept for inspection or
 * recovery (`sqlite3 file .recover`). Run before the engine opens, which would otherwise fail on it.
 */
export function quarantineBadDayFiles(dataDir: string, options: QuarantineOptions): QuarantinedFile[] {
  const stamp = new Date(options.nowMs)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const out: QuarantinedFile[] = [];
  for (const path of dayFilePaths(dataDir)) {
    const check = checkDbFile(path, options.quick ?? true);
    if (check.ok) continue;
    const movedTo = `${path}.quarantined-${stamp}`;
    // The -wal and -shm first: a crash in between must not leave them next to a new file of that day.
    for (const suffix of ["-wal", "-shm", ""])
      if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${movedTo}${suffix}`);
    const file: QuarantinedFile = { path, movedTo, problems: check.problems };
    options.logger?.error(
      { event: "storage_day_file_quarantined", path, movedTo, problems: check.problems },
      "day file failed its integrity check and was quarantined; the server serves the other days",
    );
    options.onQuarantine?.(file);
    out.push(file);
  }
  return out;
}
