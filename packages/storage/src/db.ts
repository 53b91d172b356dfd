import Database from "better-sqlite3";

declare const readableBrand: unique symbol;
declare const writableBrand: unique symbol;

/**
 * A connection that read paths take. Functions that only read accept this, so a read path cannot be
 * handed the job of writing by accident (Signal-Desktop's `ReadableDB`).
 */
export type ReadableDb = Database.Database & { readonly [readableBrand]: true };

/** A connection allowed to write. Every `WritableDb` is also a `ReadableDb`. */
export type WritableDb = ReadableDb & { readonly [writableBrand]: true };

/** How long a connection waits on another connection's write lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5_000;

export interface OpenDbOptions {
  /** When false the file must already exist; reads use this so they never create files. */
  readonly create: boolean;
  /** `PRAGMA foreign_keys = ON`; the catalog wants it, sample files have no foreign keys. */
  readonly foreignKeys?: boolean;
  /** `PRAGMA synchronous`: NORMAL (the default) or FULL (fsync every commit); see `Durability`. */
  readonly synchronous?: "NORMAL" | "FULL" | undefined;
}

/**
 * What an acknowledged write survives: `process` (SQLite `synchronous = NORMAL`: a crash of this
 * process, not a power loss or kernel crash, which can drop the last commits but never corrupt a file)
 * or `power` (`synchronous = FULL`: every commit is fsynced before it is acknowledged).
 */
export type Durability = "process" | "power";

/** The `synchronous` pragma a durability mode needs. */
export function synchronousFor(durability: Durability): "NORMAL" | "FULL" {
  return durability === "power" ? "FULL" : "NORMAL";
}

/**
 * Opens (or creates) a database file for writing, in WAL mode with `synchronous = NORMAL` (or the
 * `synchronous` option).
 *
 * Durability: in WAL mode with NORMAL, a commit is in the WAL file (the OS page cache) when `run`
 * returns, so it survives a crash of this process; the WAL is fsynced at checkpoints, so a power loss
 * or kernel crash can lose the last commits (never corrupt the file). That is the trade we make for
 * ingest speed; `synchronous = FULL` would fsync every commit.
 */
export function openWritableDb(path: string, options: OpenDbOptions): WritableDb {
  const db = new Database(path, { fileMustExist: !options.create });
  try {
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal")
      throw new Error(`${path}: could not switch to WAL mode (journal_mode is "${String(mode)}")`);
    db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Set both ways: better-sqlite3 builds default it to ON, plain SQLite to OFF.
    db.pragma(`foreign_keys = ${options.foreignKeys ? "ON" : "OFF"}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db as WritableDb;
}

/**
 * Opens an existing database file read-only (a reader's own connection; WAL lets it read while a
 * writer commits). Fails if the file does not exist.
 */
export function openReadonlyDb(path: string): ReadableDb {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db as ReadableDb;
}

/** `PRAGMA user_version`: the schema version a file was migrated to. */
export function userVersion(db: ReadableDb): number {
  return db.pragma("user_version", { simple: true }) as number;
}
