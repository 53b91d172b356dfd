import { join } from "node:path";
import type Database from "better-sqlite3";
import { DAY_MS } from "./data-dir-layout.js";
import { openWritableDb, userVersion, type WritableDb } from "./db.js";
import { StorageError } from "./storage-error.js";

/** `data_dir/rollups.db`. */
export const ROLLUPS_FILE_NAME = "rollups.db";
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** `user_version` of `rollups.db`. */
export const ROLLUPS_FORMAT_VERSION = 1;

/** The two resolutions kept: a row aggregates one series over one minute or one hour (UTC-aligned). */
export type RollupResolution = "1m" | "1h";

export const RESOLUTION_MS: Readonly<Record<RollupResolution, number>> = { "1m": MINUTE_MS, "1h": HOUR_MS };

/** A mergeable aggregate: count, min, max, sum (avg = sum / count). */
export interface RollupAgg {
  count: number;
  min: number;
  max: number;
  sum: number;
}

/** One rollup row as read: [bucket start, count, min, max, sum]. */
export type RollupRow = [ts: number, count: number, min: number, max: number, sum: number];

/**
 * What one pass over a day file produced: per series the 1-minute and 1-hour aggregates to merge in,
 * and the new watermark (the latest timestamp rolled up) of every series it saw.
 */
export interface DayRollup {
  readonly minutes: Map<number, Map<number, RollupAgg>>;
  readonly hours: Map<number, Map<number, RollupAgg>>;
  readonly watermarks: Map<number, number>;
}

/**
 * - `rollup_1m`, `rollup_1h`: per series and UTC-aligned minute / hour, count, min, max and sum of the
 *   samples in it. Rows merge (counts and sums add, min/max take the extreme), so a bucket filled from
 *   several chunks or passes ends up as if computed at once.
 * - `rollup_watermarks(day, series_id, last_ts)`: per day file and series, the latest timestamp already
 *   rolled up, so each sample is added once however often the builder runs or restarts. Written in the
 *   same transaction as the rows it covers.
 * - `rollup_days(day, finalized_at)`: days whose stragglers and in-memory samples were rolled up too
 *   (`RollupBuilder.finalizeDay`); only such a day's file may be deleted, and only such days answer
 *   queries from rollups while their raw file still exists.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rollup_1m (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rollup_1h (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rollup_watermarks (
    day INTEGER NOT NULL, series_id INTEGER NOT NULL, last_ts INTEGER NOT NULL,
    PRIMARY KEY (day, series_id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rollup_days (
    day INTEGER PRIMARY KEY, finalized_at INTEGER NOT NULL
  );
`;

const upsert = (table: string) =>
  `INSERT INTO ${table} (series_id, ts, count, min, max, sum) VALUES (?, ?, ?, ?, ?, ?)
   ON CONFLICT (series_id, ts) DO UPDATE SET
     count = count + excluded.count, min = min(min, excluded.min),
     max = max(max, excluded.max), sum = sum + excluded.sum`;

/** SQL, exported so tests can check query plans. */
export const ROLLUPS_SQL = {
  upsert1m: upsert("rollup_1m"),
  upsert1h: upsert("rollup_1h"),
  range1m:
    "SELECT ts, count, min, max, sum FROM rollup_1m WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
  range1h:
    "SELECT ts, count, min, max, sum FROM rollup_1h WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
  watermarks: "SELECT series_id, last_ts FROM rollup_watermarks WHERE day = ?",
  setWatermark:
    "INSERT INTO rollup_watermarks (day, series_id, last_ts) VALUES (?, ?, ?) ON CONFLICT (day, series_id) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts)",
  finalize: "INSERT OR REPLACE INTO rollup_days (day, finalized_at) VALUES (?, ?)",
  finalizedDays: "SELECT day, finalized_at FROM rollup_days",
} as const;

/**
 * `data_dir/rollups.db` (WAL mode): 1-minute and 1-hour aggregates per series, kept for
 * `rollup_retention_days` after raw day files are gone. One connection, used synchronously; the
 * `RollupBuilder` fills it from sealed chunks, the engine reads it for step queries over days without
 * raw data.
 */
export class RollupStore {
  readonly path: string;
  readonly #db: WritableDb;
  readonly #s: {
    upsert1m: Database.Statement<[number, number, number, number, number, number]>;
    upsert1h: Database.Statement<[number, number, number, number, number, number]>;
    range1m: Database.Statement<[number, number, number], RollupRow>;
    range1h: Database.Statement<[number, number, number], RollupRow>;
    watermarks: Database.Statement<[number], [number, number]>;
    setWatermark: Database.Statement<[number, number, number]>;
    finalize: Database.Statement<[number, number]>;
    finalizedDays: Database.Statement<[], [number, number]>;
  };

  private constructor(path: string, db: WritableDb) {
    this.path = path;
    this.#db = db;
    const q = ROLLUPS_SQL;
    this.#s = {
      upsert1m: db.prepare(q.upsert1m),
      upsert1h: db.prepare(q.upsert1h),
      range1m: db.prepare<[number, number, number], RollupRow>(q.range1m).raw(true),
      range1h: db.prepare<[number, number, number], RollupRow>(q.range1h).raw(true),
      watermarks: db.prepare<[number], [number, number]>(q.watermarks).raw(true),
      setWatermark: db.prepare(q.setWatermark),
      finalize: db.prepare(q.finalize),
      finalizedDays: db.prepare<[], [number, number]>(q.finalizedDays).raw(true),
    };
  }

  /** Opens (creating) `dataDir/rollups.db`. */
  static open(dataDir: string): RollupStore {
    const path = join(dataDir, ROLLUPS_FILE_NAME);
    const db = openWritableDb(path, { create: true });
    try {
      const version = userVersion(db);
      if (version > ROLLUPS_FORMAT_VERSION)
        throw new StorageError(
          "newer_schema",
          `${path} has rollup format ${version} but this Vigil reads only up to ${ROLLUPS_FORMAT_VERSION}; run a newer Vigil`,
        );
      if (version < ROLLUPS_FORMAT_VERSION) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${ROLLUPS_FORMAT_VERSION}`);
        }).immediate();
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return new RollupStore(path, db);
  }

  /** Per series, the latest timestamp of `day` already rolled up. */
  watermarks(day: number): Map<number, number> {
    return new Map(this.#s.watermarks.all(day));
  }

  /** Day number → the day file's modification time (Unix ms) when it was last finalized. */
  finalizedDays(): Map<number, number> {
    return new Map(this.#s.finalizedDays.all());
  }

  /**
   * Merges a pass's aggregates and watermarks for `day` in one transaction (so a crash leaves either
   * all of it or none, and the next pass redoes exactly what is missing); `finalizedAtMs` (the file's
   * modification time before the pass) marks the day finalized.
   */
  apply(day: number, rollup: DayRollup, finalizedAtMs?: number): void {
    this.#db
      .transaction(() => {
        for (const [stmt, bySeries] of [
          [this.#s.upsert1m, rollup.minutes],
          [this.#s.upsert1h, rollup.hours],
        ] as const) {
          for (const [id, buckets] of bySeries)
            for (const [ts, a] of buckets) stmt.run(id, ts, a.count, a.min, a.max, a.sum);
        }
        for (const [id, ts] of rollup.watermarks) this.#s.setWatermark.run(day, id, ts);
        if (finalizedAtMs !== undefined) this.#s.finalize.run(day, finalizedAtMs);
      })
      .immediate();
  }

  /** Rows of one series whose bucket start is in [fromMs, toMs], by time. */
  range(resolution: RollupResolution, seriesId: number, fromMs: number, toMs: number): RollupRow[] {
    return (resolution === "1m" ? this.#s.range1m : this.#s.range1h).all(seriesId, fromMs, toMs);
  }

  /**
   * Deletes 1-minute rows older than `minuteDays` and 1-hour rows older than `hourDays` whole UTC days
   * before `nowMs` (same rule as day files: day d goes once d < today - N), and the bookkeeping of days
   * older than both. Returns the rows deleted.
   */
  runRetention(nowMs: number, minuteDays: number, hourDays: number): number {
    const today = Math.floor(nowMs / DAY_MS);
    const minuteCut = (today - minuteDays) * DAY_MS;
    const hourCut = (today - hourDays) * DAY_MS;
    const oldestDay = today - Math.max(minuteDays, hourDays);
    return this.#db
      .transaction(() => {
        let n = this.#db.prepare("DELETE FROM rollup_1m WHERE ts < ?").run(minuteCut).changes;
        n += this.#db.prepare("DELETE FROM rollup_1h WHERE ts < ?").run(hourCut).changes;
        this.#db.prepare("DELETE FROM rollup_watermarks WHERE day < ?").run(oldestDay);
        this.#db.prepare("DELETE FROM rollup_days WHERE day < ?").run(oldestDay);
        return n;
      })
      .immediate();
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** Adds one sample to the bucket of `bucketMs` that holds `ts`. */
export function addSample(acc: Map<number, RollupAgg>, bucketMs: number, ts: number, v: number): void {
  addAgg(acc, ts - (ts % bucketMs), 1, v, v, v);
}

/** Merges an aggregate into the bucket starting at `start`. */
export function addAgg(
  acc: Map<number, RollupAgg>,
  start: number,
  count: number,
  min: number,
  max: number,
  sum: number,
): void {
  const a = acc.get(start);
  if (!a) {
    acc.set(start, { count, min, max, sum });
    return;
  }
  a.count += count;
  a.sum += sum;
  if (min < a.min) a.min = min;
  if (max > a.max) a.max = max;
}
