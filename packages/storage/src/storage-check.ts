import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { catalogPath, parseDayFileName, samplesDir } from "./data-dir-layout.js";
import { BUSY_TIMEOUT_MS } from "./db.js";
import { ROLLUPS_FILE_NAME } from "./rollups.js";

/** The verdict on one SQLite file. */
export interface FileCheck {
  readonly path: string;
  readonly ok: boolean;
  /** What SQLite reported (at most `MAX_PROBLEMS` lines), or why the file could not be opened. */
  readonly problems: readonly string[];
}

/** Lines of `integrity_check` output kept per file: a badly damaged file can report thousands. */
export const MAX_PROBLEMS = 10;

/**
 * Runs `PRAGMA integrity_check` (or the faster `quick_check`, which skips index-content checks) on one
 * file. Never throws: a file that cannot be opened or read fails with the reason.
 *
 * Read-only, so checking changes nothing (a writable connection would checkpoint and delete the
 * `-wal` on close, erasing evidence next to a damaged file). Only when SQLite cannot open a WAL file
 * read-only (its `-shm` is missing after a crash) does it retry read-write with `query_only`, which
 * replays that `-wal` into the file as any normal open would.
 */
export function checkDbFile(path: string, quick = false): FileCheck {
  try {
    return runCheck(path, quick, true);
  } catch (err) {
    const cantOpen = err instanceof Error && "code" in err && err.code === "SQLITE_CANTOPEN";
    if (cantOpen && existsSync(path) && existsSync(`${path}-wal`) && !existsSync(`${path}-shm`)) {
      try {
        return runCheck(path, quick, false);
      } catch (retryErr) {
        return failed(path, retryErr);
      }
    }
    return failed(path, err);
  }
}

function runCheck(path: string, quick: boolean, readonly: boolean): FileCheck {
  const db = new Database(path, { fileMustExist: true, readonly });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!readonly) db.pragma("query_only = ON");
    const rows = db
      .prepare<[], string>(`PRAGMA ${quick ? "quick_check" : "integrity_check"}(${MAX_PROBLEMS})`)
      .pluck(true)
      .all();
    const ok = rows.length === 1 && rows[0] === "ok";
    return { path, ok, problems: ok ? [] : rows };
  } finally {
    db.close();
  }
}

function failed(path: string, err: unknown): FileCheck {
  return { path, ok: false, problems: [err instanceof Error ? err.message : String(err)] };
}

/** The day files of a data dir (`samples/YYYY-MM-DD.db`), oldest first. */
export function dayFilePaths(dataDir: string): string[] {
  const dir = samplesDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => parseDayFileName(n) !== undefined)
    .sort()
    .map((n) => join(dir, n));
}

/** Every SQLite file of a data dir that exists: `vigil.db`, `rollups.db`, then the day files. */
export function storageFilePaths(dataDir: string): string[] {
  return [catalogPath(dataDir), join(dataDir, ROLLUPS_FILE_NAME)]
    .filter((p) => existsSync(p))
    .concat(dayFilePaths(dataDir));
}

/** Checks every SQLite file of the data dir (`vigil-server storage check`). */
export function checkStorage(dataDir: string, options: { quick?: boolean } = {}): FileCheck[] {
  return storageFilePaths(dataDir).map((p) => checkDbFile(p, options.quick ?? false));
}
