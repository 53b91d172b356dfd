import type Database from "better-sqlite3";
import { openWritableDb, type ReadableDb, userVersion, type WritableDb } from "./db.js";
import type { RawPoint } from "./storage-engine.js";
import { StorageError } from "./storage-error.js";

/** `user_version` of a sample file in this layout; a later layout (chunks, WAL table) bumps it. */
export const DAY_FILE_FORMAT_VERSION = 1;

/**
 * One row per sample, keyed by (series, timestamp): the key makes writes idempotent (`INSERT OR IGNORE`)
 * and serves every read as one range search. WITHOUT ROWID stores the row in the key's B-tree, so there
 * is no second index.
 */
const DAY_FILE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
  ) WITHOUT ROWID;
`;

/**
 * SQL for reads, exported so tests can check their query plans. better-sqlite3 binds every JS number as
 * REAL, so the bucket arithmetic casts its parameters to INTEGER to get integer division.
 */
export const DAY_FILE_SQL = {
  insert: "INSERT OR IGNORE INTO samples (series_id, ts, value) VALUES (?, ?, ?)",
  raw: "SELECT ts, value FROM samples WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts LIMIT ?",
  last: "SELECT ts, value FROM samples WHERE series_id = ? ORDER BY ts DESC LIMIT 1",
  buckets: `SELECT (ts - CAST(@from AS INTEGER)) / CAST(@step AS INTEGER) AS k,
                   sum(value), min(value), max(value), count(*)
            FROM samples WHERE series_id = @id AND ts BETWEEN @from AND @to
            GROUP BY k ORDER BY k`,
} as const;

/** Samples of one day in columnar form, as `appendBatch` groups them. */
export interface DayRows {
  readonly seriesIds: number[];
  readonly timestamps: number[];
  readonly values: number[];
}

/** One file's partial aggregate of a step bucket: [bucket index, sum, min, max, count]. */
export type BucketPartial = [k: number, sum: number, min: number, max: number, count: number];

interface BucketParams {
  id: number;
  from: number;
  to: number;
  step: number;
}

interface ReadStatements {
  readonly raw: Database.Statement<[number, number, number, number], RawPoint>;
  readonly buckets: Database.Statement<[BucketParams], BucketPartial>;
  readonly last: Database.Statement<[number], RawPoint>;
}

/** Read statements take a `ReadableDb`: a reader's own read-only connection will do once there is one. */
function prepareReadStatements(db: ReadableDb): ReadStatements {
  return {
    raw: db.prepare<[number, number, number, number], RawPoint>(DAY_FILE_SQL.raw).raw(true),
    buckets: db.prepare<[BucketParams], BucketPartial>(DAY_FILE_SQL.buckets).raw(true),
    last: db.prepare<[number], RawPoint>(DAY_FILE_SQL.last).raw(true),
  };
}

/**
 * An open `samples/YYYY-MM-DD.db`. Owns one connection, used for both writing and reading in this
 * milestone (calls are synchronous, so they never interleave); the writer-worker milestone splits them.
 */
export class DayFile {
  readonly day: number;
  readonly path: string;
  readonly #db: WritableDb;
  readonly #insert: Database.Statement<[number, number, number]>;
  readonly #append: Database.Transaction<(rows: DayRows) => number>;
  #reads: ReadStatements | undefined;

  private constructor(day: number, path: string, db: WritableDb) {
    this.day = day;
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare<[number, number, number]>(DAY_FILE_SQL.insert);
    this.#append = db.transaction((rows: DayRows): number => {
      let accepted = 0;
      const { seriesIds, timestamps, values } = rows;
      for (let i = 0; i < seriesIds.length; i++) {
        accepted += this.#insert.run(
          seriesIds[i] as number,
          timestamps[i] as number,
          values[i] as number,
        ).changes;
      }
      return accepted;
    });
  }

  /**
   * Opens a day file, creating it (and its table) when `create` is set; without `create` a missing
   * file throws. Refuses a file whose format is newer than this code.
   */
  static open(path: string, day: number, create: boolean): DayFile {
    const db = openWritableDb(path, { create });
    try {
      initDayFile(db, path);
    } catch (err) {
      db.close();
      throw err;
    }
    return new DayFile(day, path, db);
  }

  /** Writes the rows in one transaction; returns how many were new (the rest were already there). */
  append(rows: DayRows): number {
    return this.#append.immediate(rows);
  }

  /** Raw points of one series in [fromMs, toMs], ascending, at most `limit`. */
  readRaw(seriesId: number, fromMs: number, toMs: number, limit: number): RawPoint[] {
    return this.#readStatements().raw.all(seriesId, fromMs, toMs, limit);
  }

  /**
   * Per-bucket partial aggregates of one series in [fromMs, toMs], bucket k covering
   * [fromMs + k*stepMs, fromMs + (k+1)*stepMs). Partial because a bucket can straddle midnight.
   */
  readBuckets(seriesId: number, fromMs: number, toMs: number, stepMs: number): BucketPartial[] {
    return this.#readStatements().buckets.all({ id: seriesId, from: fromMs, to: toMs, step: stepMs });
  }

  /** The series' newest sample in this file, or undefined. */
  last(seriesId: number): RawPoint | undefined {
    return this.#readStatements().last.get(seriesId);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #readStatements(): ReadStatements {
    this.#reads ??= prepareReadStatements(this.#db);
    return this.#reads;
  }
}

/**
 * Creates the table in a new file and stamps its format. Also runs for an existing but empty file
 * (a crash right after the file was created), which is the only case where opening for a read writes.
 */
function initDayFile(db: WritableDb, path: string): void {
  const version = userVersion(db);
  if (version === DAY_FILE_FORMAT_VERSION) return;
  if (version > DAY_FILE_FORMAT_VERSION) {
    throw new StorageError(
      "newer_schema",
      `${path} has sample format ${version} but this Vigil reads only up to ${DAY_FILE_FORMAT_VERSION}; run a newer Vigil`,
    );
  }
  db.transaction(() => {
    if (userVersion(db) !== 0) return;
    db.exec(DAY_FILE_SCHEMA);
    db.pragma(`user_version = ${DAY_FILE_FORMAT_VERSION}`);
  }).immediate();
}
