import type Database from "better-sqlite3";
import { decodeChunk } from "./chunk-codec.js";
import {
  CHUNK_DAY_FILE_FORMAT_VERSION,
  CHUNK_DAY_FILE_SQL,
  type ChunkRow,
  MAX_CHUNK_SPAN_MS,
} from "./chunk-day-file.js";
import { openReadonlyDb, type ReadableDb, userVersion } from "./db.js";
import type { RawPoint } from "./storage-engine.js";

/**
 * A read-only connection to one day file, for queries on the main thread while the writer thread
 * writes (WAL lets both run at once). Each method is one statement, i.e. one short read transaction:
 * a long query never holds a snapshot open across its statements, so checkpoints can reset the `-wal`
 * between them (see the wal cap in writer-core.ts).
 */
export class DayFileReader {
  readonly day: number;
  readonly path: string;
  readonly #db: ReadableDb;
  readonly #s: {
    chunksInRange: Database.Statement<[number, number, number, number], ChunkRow>;
    samplesInRange: Database.Statement<[number, number, number], RawPoint>;
    lastChunk: Database.Statement<[number], [number, Uint8Array]>;
    lastSample: Database.Statement<[number], RawPoint>;
  };

  private constructor(day: number, path: string, db: ReadableDb) {
    this.day = day;
    this.path = path;
    this.#db = db;
    const q = CHUNK_DAY_FILE_SQL;
    this.#s = {
      chunksInRange: db.prepare<[number, number, number, number], ChunkRow>(q.chunksInRange).raw(true),
      samplesInRange: db.prepare<[number, number, number], RawPoint>(q.samplesInRange).raw(true),
      lastChunk: db
        .prepare<[number], [number, Uint8Array]>(
          "SELECT start_ts, data FROM chunks WHERE series_id = ? ORDER BY start_ts DESC LIMIT 1",
        )
        .raw(true),
      lastSample: db.prepare<[number], RawPoint>(q.lastSample).raw(true),
    };
  }

  /**
   * Opens the file read-only; undefined when it is missing or not (yet) in the chunked layout (the
   * writer creates and upgrades files, a reader may see one a moment before its schema is committed).
   */
  static open(path: string, day: number): DayFileReader | undefined {
    let db: ReadableDb;
    try {
      db = openReadonlyDb(path);
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "SQLITE_CANTOPEN") return undefined;
      throw err;
    }
    try {
      if (userVersion(db) !== CHUNK_DAY_FILE_FORMAT_VERSION) {
        db.close();
        return undefined;
      }
      return new DayFileReader(day, path, db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Chunks of the series that overlap [fromMs, toMs], by start, leaving out those starting after
   * `cutoffTs` (flushed after the head snapshot the caller holds, which already has their samples).
   */
  chunksInRange(seriesId: number, fromMs: number, toMs: number, cutoffTs: number): ChunkRow[] {
    const rows = this.#s.chunksInRange.all(seriesId, fromMs - MAX_CHUNK_SPAN_MS, toMs, fromMs);
    return cutoffTs === Number.POSITIVE_INFINITY ? rows : rows.filter((r) => r[0] <= cutoffTs);
  }

  /** Straggler rows of the series in [fromMs, toMs]. */
  samplesInRange(seriesId: number, fromMs: number, toMs: number): RawPoint[] {
    return this.#s.samplesInRange.all(seriesId, fromMs, toMs);
  }

  /** The newest sample the series has in `chunks` or `samples` (not the head), or undefined. */
  lastStored(seriesId: number): RawPoint | undefined {
    let best: RawPoint | undefined;
    const chunk = this.#s.lastChunk.get(seriesId);
    if (chunk) {
      const { timestamps, values } = decodeChunk(chunk[1]);
      const n = timestamps.length;
      if (n > 0) best = [timestamps[n - 1] as number, values[n - 1] as number];
    }
    const straggler = this.#s.lastSample.get(seriesId);
    if (straggler && (!best || straggler[0] > best[0])) best = straggler;
    return best;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
