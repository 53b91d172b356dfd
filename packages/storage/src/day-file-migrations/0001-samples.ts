import type { WritableDb } from "../db.js";

/**
 * Day file 0001: one row per sample, the first layout (`SqliteStorageEngine` still writes it).
 *
 * `(series_id, ts)` is the primary key of a WITHOUT ROWID table: a series' range is one contiguous
 * B-tree scan, and a resent sample is a key conflict (`INSERT OR IGNORE`), not a second row. In the
 * chunked layout the same table keeps the out-of-order stragglers, and a version-1 file's rows stay
 * here and read like stragglers.
 */
export function migrateDayFile0001(db: WritableDb): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS samples (
      series_id INTEGER NOT NULL,
      ts INTEGER NOT NULL,
      value REAL NOT NULL,
      PRIMARY KEY (series_id, ts)
    ) WITHOUT ROWID;
  `);
}
