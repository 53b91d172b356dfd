import type { WritableDb } from "../db.js";

/**
 * Day file 0002: the chunked layout (docs/storage.md, "A day file").
 *
 * - `wal_batches`: each accepted batch appended as one row before the ack (a pure append, unlike
 *   rows scattered over `samples`' B-tree); `seq` is the rowid, so the replay order is the insert order.
 * - `chunks`: per-series compressed samples with `count/min/max/sum`, so step queries and rollups use
 *   a chunk inside one bucket without decoding it. `(series_id, start_ts)` WITHOUT ROWID: a series'
 *   chunks are one contiguous scan.
 * Existing `samples` rows (a version-1 file) stay where they are.
 */
export function migrateDayFile0002(db: WritableDb): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS wal_batches (
      seq INTEGER PRIMARY KEY,
      agent_id TEXT NOT NULL,
      batch BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS chunks (
      series_id INTEGER NOT NULL,
      start_ts INTEGER NOT NULL,
      end_ts INTEGER NOT NULL,
      count INTEGER NOT NULL,
      min REAL,
      max REAL,
      sum REAL,
      data BLOB NOT NULL,
      PRIMARY KEY (series_id, start_ts)
    ) WITHOUT ROWID;
  `);
}
