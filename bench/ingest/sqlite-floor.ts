import { existsSync, statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import type { BatchSeries } from "./workload.js";

/**
 * The table of a day file (packages/storage/src/day-file.ts), copied rather than imported so the floor
 * stays the plain SQLite cost even when the storage layout changes under it.
 */
const SAMPLES_SCHEMA = `
  CREATE TABLE samples (
    series_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
  ) WITHOUT ROWID;
`;
const INSERT_SQL = "INSERT OR IGNORE INTO samples (series_id, ts, value) VALUES (?, ?, ?)";

/** One batch as rows, in the order the storage engine hands a day's rows to SQLite. */
interface Rows {
  readonly seriesIds: number[];
  readonly timestamps: number[];
  readonly values: number[];
}

export interface FloorWrite {
  readonly samples: number;
  /** From the first transaction's start to the last one's commit. */
  readonly seconds: number;
  /** Rows newly inserted; equals `samples` when nothing was already there. */
  readonly inserted: number;
}

export interface FloorFile {
  /** Every row in the file. */
  readonly rows: number;
  /** Its size after close (the last connection's close checkpoints the WAL and removes it). */
  readonly bytes: number;
}

/**
 * The floor: raw better-sqlite3 into a fresh file with the day file's table and pragmas (WAL,
 * synchronous = NORMAL), `INSERT OR IGNORE` through one prepared statement, one transaction per batch.
 * No protocol, no validation, no catalog, no process hop: what SQLite alone costs for the same rows.
 * A class because the file stays open across the rounds that alternate with the server's.
 */
export class SqliteFloor {
  readonly #path: string;
  readonly #db: Database.Database;
  readonly #firstSeriesId: number;
  readonly #append: Database.Transaction<(rows: Rows) => number>;

  private constructor(path: string, db: Database.Database, firstSeriesId: number) {
    this.#path = path;
    this.#db = db;
    this.#firstSeriesId = firstSeriesId;
    const insert = db.prepare<[number, number, number]>(INSERT_SQL);
    this.#append = db.transaction((rows: Rows): number => {
      let inserted = 0;
      const { seriesIds, timestamps, values } = rows;
      for (let i = 0; i < seriesIds.length; i++) {
        inserted += insert.run(seriesIds[i] as number, timestamps[i] as number, values[i] as number).changes;
      }
      return inserted;
    });
  }

  /**
   * Creates the file. Series get ids from `firstSeriesId` upwards in batch order, as the catalog
   * numbers an agent's series when its first batch arrives.
   */
  static create(path: string, firstSeriesId: number): SqliteFloor {
    if (existsSync(path)) throw new Error(`${path} already exists; the floor needs a fresh file`);
    const db = new Database(path);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.exec(SAMPLES_SCHEMA);
      return new SqliteFloor(path, db, firstSeriesId);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Writes the batches, one immediate transaction each, and times it. Rows are built before the clock starts. */
  write(batches: readonly BatchSeries[]): FloorWrite {
    const rows = batches.map((batch) => this.#toRows(batch));
    let inserted = 0;
    let samples = 0;
    const start = performance.now();
    for (const r of rows) {
      inserted += this.#append.immediate(r);
      samples += r.seriesIds.length;
    }
    return { samples, seconds: (performance.now() - start) / 1000, inserted };
  }

  /** Closes the file; returns its row count and size. */
  close(): FloorFile {
    const rows = this.#db.prepare<[], number>("SELECT count(*) FROM samples").pluck().get() ?? 0;
    this.#db.close();
    return { rows, bytes: fileBytes(this.#path) };
  }

  /** Closes without reporting (failure paths). */
  abort(): void {
    if (this.#db.open) this.#db.close();
  }

  #toRows(batch: BatchSeries): Rows {
    const rows: Rows = { seriesIds: [], timestamps: [], values: [] };
    batch.forEach((series, s) => {
      for (let i = 0; i < series.timestamps.length; i++) {
        rows.seriesIds.push(this.#firstSeriesId + s);
        rows.timestamps.push(series.timestamps[i] as number);
        rows.values.push(series.values[i] as number);
      }
    });
    return rows;
  }
}

/** A SQLite file's bytes on disk, with its `-wal` file if one is left. */
export function fileBytes(path: string): number {
  const wal = `${path}-wal`;
  return statSync(path).size + (existsSync(wal) ? statSync(wal).size : 0);
}
