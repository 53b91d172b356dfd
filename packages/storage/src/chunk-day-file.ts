import { statSync } from "node:fs";
import type Database from "better-sqlite3";
import { decodeChunk } from "./chunk-codec.js";
import { DAY_FILE_SCHEMA_VERSION, migrateDayFile } from "./day-file-migrate.js";
import {
  BUSY_TIMEOUT_MS,
  openReadonlyDb,
  openWritableDb,
  type ReadableDb,
  userVersion,
  type WritableDb,
} from "./db.js";
import type { RawPoint } from "./storage-engine.js";
import { decodeWalBatch, type SampleRows } from "./wal-batch-codec.js";

/** `user_version` of a day file in the chunked layout. Version 1 (one row per sample) is upgraded in place. */
export const CHUNK_DAY_FILE_FORMAT_VERSION: number = DAY_FILE_SCHEMA_VERSION;

/** A chunk never spans more than this, so a range read scans chunks starting at most this before it. */
export const MAX_CHUNK_SPAN_MS = 2 * 60 * 60 * 1000;

/** SQL, exported so tests can check query plans. */
export const CHUNK_DAY_FILE_SQL = {
  insertWal: "INSERT INTO wal_batches (agent_id, batch) VALUES (?, ?)",
  walRows: "SELECT seq, batch FROM wal_batches ORDER BY seq",
  deleteWalBelow: "DELETE FROM wal_batches WHERE seq < ?",
  insertChunk:
    "INSERT INTO chunks (series_id, start_ts, end_ts, count, min, max, sum, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  lastChunkEnd: "SELECT end_ts FROM chunks WHERE series_id = ? ORDER BY start_ts DESC LIMIT 1",
  lastSampleTs: "SELECT max(ts) FROM samples WHERE series_id = ?",
  chunkCovering:
    "SELECT data FROM chunks WHERE series_id = ? AND start_ts BETWEEN ? AND ? AND end_ts >= ? ORDER BY start_ts DESC LIMIT 1",
  chunksInRange:
    "SELECT start_ts, end_ts, count, min, max, sum, data FROM chunks WHERE series_id = ? AND start_ts BETWEEN ? AND ? AND end_ts >= ? ORDER BY start_ts",
  insertStraggler: "INSERT OR IGNORE INTO samples (series_id, ts, value) VALUES (?, ?, ?)",
  samplesInRange: "SELECT ts, value FROM samples WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
  lastChunkData: "SELECT data FROM chunks WHERE series_id = ? ORDER BY start_ts DESC LIMIT 1",
  lastSample: "SELECT ts, value FROM samples WHERE series_id = ? ORDER BY ts DESC LIMIT 1",
} as const;

/** A chunk row as read for a query: [start, end, count, min, max, sum, data]. */
export type ChunkRow = [
  start: number,
  end: number,
  count: number,
  min: number,
  max: number,
  sum: number,
  data: Uint8Array,
];

/** How the writer opens a day file. */
export interface DayFileWriteOptions {
  /** `PRAGMA synchronous` (see `Durability` in db.ts). Default NORMAL. */
  readonly synchronous?: "NORMAL" | "FULL" | undefined;
  /** `PRAGMA journal_size_limit`: a reset `-wal` is truncated back to this many bytes. */
  readonly walMaxBytes?: number | undefined;
  /** The file never grows past this many bytes: a write that would fails with SQLITE_FULL. */
  readonly maxBytes?: number | undefined;
}

/** A chunk to write. */
export interface ChunkToWrite {
  readonly seriesId: number;
  readonly timestamps: readonly number[];
  readonly values: readonly number[];
  readonly data: Uint8Array;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
}

/** An open `samples/YYYY-MM-DD.db` in the chunked layout; one connection, used synchronously. */
export class ChunkDayFile {
  readonly day: number;
  readonly path: string;
  readonly db: WritableDb;
  readonly #s: {
    insertWal: Database.Statement<[string, Buffer]>;
    walRows: Database.Statement<[], [number, Uint8Array]>;
    deleteWalBelow: Database.Statement<[number]>;
    insertChunk: Database.Statement<[number, number, number, number, number, number, number, Uint8Array]>;
    lastChunkEnd: Database.Statement<[number], number>;
    lastSampleTs: Database.Statement<[number], number | null>;
    chunkCovering: Database.Statement<[number, number, number, number], Uint8Array>;
    chunksInRange: Database.Statement<[number, number, number, number], ChunkRow>;
    insertStraggler: Database.Statement<[number, number, number]>;
    samplesInRange: Database.Statement<[number, number, number], RawPoint>;
    lastChunkData: Database.Statement<[number], Uint8Array>;
    lastSample: Database.Statement<[number], RawPoint>;
  };

  private constructor(day: number, path: string, db: WritableDb) {
    this.day = day;
    this.path = path;
    this.db = db;
    const q = CHUNK_DAY_FILE_SQL;
    this.#s = {
      insertWal: db.prepare(q.insertWal),
      walRows: db.prepare<[], [number, Uint8Array]>(q.walRows).raw(true),
      deleteWalBelow: db.prepare(q.deleteWalBelow),
      insertChunk: db.prepare(q.insertChunk),
      lastChunkEnd: db.prepare<[number], number>(q.lastChunkEnd).pluck(true),
      lastSampleTs: db.prepare<[number], number | null>(q.lastSampleTs).pluck(true),
      chunkCovering: db.prepare<[number, number, number, number], Uint8Array>(q.chunkCovering).pluck(true),
      chunksInRange: db.prepare<[number, number, number, number], ChunkRow>(q.chunksInRange).raw(true),
      insertStraggler: db.prepare(q.insertStraggler),
      samplesInRange: db.prepare<[number, number, number], RawPoint>(q.samplesInRange).raw(true),
      lastChunkData: db.prepare<[number], Uint8Array>(q.lastChunkData).pluck(true),
      lastSample: db.prepare<[number], RawPoint>(q.lastSample).raw(true),
    };
  }

  /** Opens (creating when `create`) and upgrades a version-1 file in place. */
  static open(path: string, day: number, create: boolean, options: DayFileWriteOptions = {}): ChunkDayFile {
    const db = openWritableDb(path, { create, synchronous: options.synchronous });
    try {
      if (options.walMaxBytes !== undefined) db.pragma(`journal_size_limit = ${options.walMaxBytes}`);
      initChunkDayFile(db, path);
      if (options.maxBytes !== undefined) setMaxBytes(db, options.maxBytes);
    } catch (err) {
      db.close();
      throw err;
    }
    return new ChunkDayFile(day, path, db);
  }

  /** Runs `fn` in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Appends a batch row; returns its seq. Call inside `transaction`. */
  appendWal(agentId: string, batch: Buffer): number {
    return Number(this.#s.insertWal.run(agentId, batch).lastInsertRowid);
  }

  /** Every `wal_batches` row, by seq. */
  walRows(): [seq: number, rows: SampleRows][] {
    return this.#s.walRows.all().map(([seq, blob]) => [seq, decodeWalBatch(blob)]);
  }

  /** Deletes the rows below `seq` (every row when `seq` is Infinity). */
  deleteWalBelow(seq: number): void {
    if (seq === Number.POSITIVE_INFINITY) this.db.exec("DELETE FROM wal_batches");
    else this.#s.deleteWalBelow.run(seq);
  }

  insertChunk(c: ChunkToWrite): void {
    const n = c.timestamps.length;
    this.#s.insertChunk.run(
      c.seriesId,
      c.timestamps[0] as number,
      c.timestamps[n - 1] as number,
      n,
      c.min,
      c.max,
      c.sum,
      c.data,
    );
  }

  /**
   * The latest timestamp the series has in `chunks` or `samples` (-1: none). Later samples belong in the
   * head; earlier ones are stragglers. (`samples` counts for version-1 files, whose rows are all there.)
   */
  lastStoredTs(seriesId: number): number {
    const chunkEnd = this.#s.lastChunkEnd.get(seriesId) ?? -1;
    const sampleTs = this.#s.lastSampleTs.get(seriesId) ?? -1;
    return Math.max(chunkEnd, sampleTs);
  }

  /** Whether a chunk holds exactly this timestamp for the series. */
  chunkHas(seriesId: number, ts: number): boolean {
    const data = this.#s.chunkCovering.get(seriesId, ts - MAX_CHUNK_SPAN_MS, ts, ts);
    if (!data) return false;
    const { timestamps } = decodeChunk(data);
    return binarySearch(timestamps, ts) >= 0;
  }

  /** Writes a straggler; false when the series already had a sample there. */
  insertStraggler(seriesId: number, ts: number, value: number): boolean {
    return this.#s.insertStraggler.run(seriesId, ts, value).changes === 1;
  }

  /** Chunks of the series that overlap [fromMs, toMs], by start. */
  chunksInRange(seriesId: number, fromMs: number, toMs: number): ChunkRow[] {
    return this.#s.chunksInRange.all(seriesId, fromMs - MAX_CHUNK_SPAN_MS, toMs, fromMs);
  }

  /** Straggler rows of the series in [fromMs, toMs]. */
  samplesInRange(seriesId: number, fromMs: number, toMs: number): RawPoint[] {
    return this.#s.samplesInRange.all(seriesId, fromMs, toMs);
  }

  /**
   * The newest sample the series has in this file's `chunks` or `samples` (not the head), or undefined.
   * A series' chunks never overlap, so the one starting last holds the newest chunked sample.
   */
  lastStored(seriesId: number): RawPoint | undefined {
    let best: RawPoint | undefined;
    const data = this.#s.lastChunkData.get(seriesId);
    if (data) {
      const { timestamps, values } = decodeChunk(data);
      const n = timestamps.length;
      if (n > 0) best = [timestamps[n - 1] as number, values[n - 1] as number];
    }
    const straggler = this.#s.lastSample.get(seriesId);
    if (straggler && (!best || straggler[0] > best[0])) best = straggler;
    return best;
  }

  /** See `DayFileWriteOptions.maxBytes`; undefined lifts the limit. */
  setMaxBytes(bytes: number | undefined): void {
    setMaxBytes(this.db, bytes);
  }

  /** Size of the file's `-wal` now (0 when there is none). */
  walBytes(): number {
    try {
      return statSync(`${this.path}-wal`).size;
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "ENOENT") return 0;
      throw err;
    }
  }

  /**
   * `PRAGMA wal_checkpoint(TRUNCATE)` without waiting: copies the `-wal` into the file and truncates it
   * to zero bytes. A reader in the middle of a statement makes it give up at once (the writer never
   * waits on readers); true when the `-wal` was emptied, false to try again after a later commit.
   */
  checkpointTruncate(): boolean {
    this.db.pragma("busy_timeout = 0");
    try {
      const [r] = this.db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
      return r?.busy === 0;
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "SQLITE_BUSY") return false;
      throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** SQLite's own largest page count: "no limit". */
const SQLITE_MAX_PAGE_COUNT = 4_294_967_294;

/** `PRAGMA max_page_count` (per connection; SQLite never lowers it below the pages already used). */
function setMaxBytes(db: WritableDb, bytes: number | undefined): void {
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  const pages = bytes === undefined ? SQLITE_MAX_PAGE_COUNT : Math.max(1, Math.floor(bytes / pageSize));
  db.pragma(`max_page_count = ${pages}`);
}

function initChunkDayFile(db: WritableDb, path: string): void {
  if (userVersion(db) === CHUNK_DAY_FILE_FORMAT_VERSION) return;
  // The layout (wal_batches, chunks, samples) is in day-file-migrations/; a newer file is refused.
  migrateDayFile(db, path);
}

/** Index of `ts` in an ascending array, or -(insertion point) - 1. */
export function binarySearch(a: ArrayLike<number>, ts: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid] as number;
    if (v < ts) lo = mid + 1;
    else if (v > ts) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** One stored sample as `readDayFileSamples` returns it. */
export interface StoredSample {
  readonly seriesId: number;
  readonly ts: number;
  readonly value: number;
}

/** What `readDayFileSamples` reads: only these series, only inside [fromMs, toMs] (inclusive). */
export interface DayFileSampleFilter {
  readonly seriesIds: ReadonlySet<number>;
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Every sample a day file holds (or those `filter` selects), decoded: chunks, stragglers and the
 * `wal_batches` rows not yet in chunks (so a file a running server is writing reads complete),
 * deduplicated by series and timestamp the way the engine does (first written wins), ordered by series
 * then time. Opens the file read-only and never writes, so it is safe beside a running server; for
 * tools (`rules backtest`) and tests, not the query path. A missing file reads as no samples.
 */
export function readDayFileSamples(path: string, filter?: DayFileSampleFilter): StoredSample[] {
  let db: ReadableDb;
  try {
    db = openReadonlyDb(path);
  } catch (err) {
    if (filter && err instanceof Error && "code" in err && err.code === "SQLITE_CANTOPEN") return [];
    throw err;
  }
  const wanted = (seriesId: number, ts: number) =>
    !filter || (filter.seriesIds.has(seriesId) && ts >= filter.fromMs && ts <= filter.toMs);
  try {
    // One read transaction: a chunk flush between the SELECTs (chunk inserted, its wal rows deleted)
    // must not make samples vanish from the answer.
    const read = db.transaction(() => {
      const seen = new Map<string, StoredSample>();
      const add = (seriesId: number, ts: number, value: number) => {
        if (!wanted(seriesId, ts)) return;
        const key = `${seriesId}:${ts}`;
        if (!seen.has(key)) seen.set(key, { seriesId, ts, value });
      };
      const version = userVersion(db);
      if (version >= 2) {
        for (const [id, data] of chunkRows(db, filter)) {
          const { timestamps, values } = decodeChunk(data);
          for (let i = 0; i < timestamps.length; i++) add(id, timestamps[i] as number, values[i] as number);
        }
      }
      if (version >= 1) {
        for (const [id, ts, value] of stragglerRows(db, filter)) add(id, ts, value);
      }
      if (version >= 2) {
        const wal = db
          .prepare("SELECT batch FROM wal_batches ORDER BY seq")
          .pluck(true)
          .all() as Uint8Array[];
        for (const blob of wal) {
          const r = decodeWalBatch(blob);
          for (let i = 0; i < r.seriesIds.length; i++)
            add(r.seriesIds[i] as number, r.timestamps[i] as number, r.values[i] as number);
        }
      }
      return seen;
    });
    const seen = read();
    return [...seen.values()].sort((a, b) => a.seriesId - b.seriesId || a.ts - b.ts);
  } finally {
    db.close();
  }
}

/** [series_id, data] of every chunk, or of the filter's series overlapping its range (by primary key). */
function chunkRows(db: ReadableDb, filter: DayFileSampleFilter | undefined): [number, Uint8Array][] {
  if (!filter)
    return db.prepare("SELECT series_id, data FROM chunks").raw(true).all() as [number, Uint8Array][];
  const stmt = db.prepare(CHUNK_DAY_FILE_SQL.chunksInRange).raw(true);
  const out: [number, Uint8Array][] = [];
  for (const id of filter.seriesIds) {
    const rows = stmt.all(id, filter.fromMs - MAX_CHUNK_SPAN_MS, filter.toMs, filter.fromMs) as ChunkRow[];
    for (const row of rows) out.push([id, row[6]]);
  }
  return out;
}

/** [series_id, ts, value] of every straggler, or of the filter's series inside its range. */
function stragglerRows(db: ReadableDb, filter: DayFileSampleFilter | undefined): [number, number, number][] {
  if (!filter)
    return db.prepare("SELECT series_id, ts, value FROM samples").raw(true).all() as [
      number,
      number,
      number,
    ][];
  const stmt = db.prepare(CHUNK_DAY_FILE_SQL.samplesInRange).raw(true);
  const out: [number, number, number][] = [];
  for (const id of filter.seriesIds)
    for (const [ts, value] of stmt.all(id, filter.fromMs, filter.toMs) as RawPoint[])
      out.push([id, ts, value]);
  return out;
}
