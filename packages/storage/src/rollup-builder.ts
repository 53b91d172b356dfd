import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@vigil/common";
import { decodeChunk } from "./chunk-codec.js";
import { MAX_CHUNK_SPAN_MS } from "./chunk-day-file.js";
import {
  catalogPath,
  dayNumber,
  dayNumberFileName,
  parseDayFileName,
  samplesDir,
} from "./data-dir-layout.js";
import { openReadonlyDb, type ReadableDb, userVersion } from "./db.js";
import {
  addAgg,
  addSample,
  type DayRollup,
  HOUR_MS,
  MINUTE_MS,
  type RollupAgg,
  type RollupStore,
} from "./rollups.js";
import { StorageError } from "./storage-error.js";
import { decodeWalBatch } from "./wal-batch-codec.js";

/**
 * A day this many whole days before today is finalized by the periodic run (its stragglers and
 * in-memory samples rolled up too): by then agents have delivered what they spooled.
 */
export const FINALIZE_AFTER_DAYS = 2;

export interface RollupBuilderOptions {
  readonly dataDir: string;
  readonly store: RollupStore;
  readonly logger?: Logger | undefined;
}

/** What one `run` did. */
export interface RollupRunSummary {
  /** Day files visited. */
  readonly days: number;
  /** Days finalized in this run. */
  readonly finalized: number;
  /** Samples added to rollups. */
  readonly samples: number;
  /** Day files that could not be read (logged). */
  readonly failed: number;
}

/**
 * Fills `rollups.db` from the day files. A pass over a day file reads, per series, only the sealed
 * chunks past that series' watermark (its own read-only connection, one read transaction) and merges
 * their aggregates: a chunk inside one minute (or hour) adds its `count/min/max/sum` columns as they
 * are; a chunk spanning several is decoded. The watermark moves in the same transaction as the rows,
 * so a chunk is rolled up once, whatever crashes or restarts happen.
 *
 * Finalizing a day (after `FINALIZE_AFTER_DAYS`, and always before retention deletes its file) also
 * adds its stragglers (`samples`) and the samples still only in `wal_batches` (the writer's head), and
 * marks the day; from then on queries may read that day from rollups.
 */
export class RollupBuilder {
  readonly #dataDir: string;
  readonly #store: RollupStore;
  readonly #logger: Logger | undefined;

  constructor(options: RollupBuilderOptions) {
    this.#dataDir = options.dataDir;
    this.#store = options.store;
    this.#logger = options.logger;
  }

  /**
   * One periodic pass: every day file not finalized gets an incremental pass (finalized when it is
   * `FINALIZE_AFTER_DAYS` old); a finalized day is visited again only if its file changed since.
   * A file that cannot be read is logged and skipped.
   */
  run(nowMs: number): RollupRunSummary {
    const finalized = this.#store.finalizedDays();
    const today = dayNumber(nowMs);
    let days = 0;
    let done = 0;
    let samples = 0;
    let failed = 0;
    let seriesIds: number[] | undefined;
    for (const day of this.#dayFiles()) {
      const path = join(samplesDir(this.#dataDir), dayNumberFileName(day));
      const at = finalized.get(day);
      if (at !== undefined && lastModifiedMs(path) <= at) continue;
      const finalize = at === undefined && day <= today - FINALIZE_AFTER_DAYS;
      seriesIds ??= this.#seriesIds();
      days++;
      try {
        samples += this.#pass(day, path, seriesIds, finalize || at !== undefined, finalize);
        if (finalize) done++;
      } catch (err) {
        failed++;
        this.#logger?.error({ err, path }, "could not roll up a day file; will retry");
      }
    }
    if (samples > 0 || done > 0) this.#logger?.debug({ days, finalized: done, samples }, "rollups updated");
    return { days, finalized: done, samples, failed };
  }

  /**
   * Rolls up everything `day`'s file holds that rollups lack and marks the day finalized. Throws when the
   * file cannot be read: the caller (retention) must then keep the file. No file: nothing to do.
   */
  finalizeDay(day: number): void {
    const path = join(samplesDir(this.#dataDir), dayNumberFileName(day));
    if (!existsSync(path)) return;
    const wasFinalized = this.#store.finalizedDays().has(day);
    this.#pass(day, path, this.#seriesIds(), true, !wasFinalized);
  }

  /**
   * Returns samples added. `mark`: record the day as finalized, with the file's modification time seen
   * before reading (a write during the pass makes the next run look again); `extras`: also stragglers
   * and wal rows.
   */
  #pass(day: number, path: string, seriesIds: number[], mark: boolean, extras: boolean): number {
    const modified = lastModifiedMs(path);
    const watermarks = this.#store.watermarks(day);
    const { rollup, samples } = rollUpDayFile(path, seriesIds, watermarks, extras);
    this.#store.apply(day, rollup, mark ? modified : undefined);
    return samples;
  }

  #dayFiles(): number[] {
    let names: string[];
    try {
      names = readdirSync(samplesDir(this.#dataDir));
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "ENOENT") return [];
      throw err;
    }
    return names
      .map(parseDayFileName)
      .filter((d): d is number => d !== undefined)
      .sort((a, b) => a - b);
  }

  /** Every series id of the catalog (read-only connection): chunks are looked up per series. */
  #seriesIds(): number[] {
    const path = catalogPath(this.#dataDir);
    if (!existsSync(path)) return [];
    const db = openReadonlyDb(path);
    try {
      return db.prepare<[], number>("SELECT id FROM series ORDER BY id").pluck(true).all();
    } finally {
      db.close();
    }
  }
}

/** The later of the file's and its `-wal`'s modification times (ms). */
function lastModifiedMs(path: string): number {
  let latest = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      latest = Math.max(latest, statSync(p).mtimeMs);
    } catch {
      // A missing -wal (the file was checkpointed and closed) is the normal case: the file's time counts.
    }
  }
  return latest;
}

/**
 * Reads one day file (read-only, in one read transaction so a chunk flush in between cannot show a
 * sample twice or not at all) and returns the aggregates of what lies past each series' watermark:
 * sealed chunks always; with `extras`, also every straggler row and the `wal_batches` samples newer
 * than anything the series has stored (those are in the writer's head, not in chunks yet).
 */
export function rollUpDayFile(
  path: string,
  seriesIds: readonly number[],
  watermarks: ReadonlyMap<number, number>,
  extras: boolean,
): { rollup: DayRollup; samples: number } {
  let db: ReadableDb;
  try {
    db = openReadonlyDb(path);
  } catch (err) {
    throw new StorageError(
      "invalid_argument",
      `cannot open ${path} for rollups: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    return db.transaction(() => readDay(db, seriesIds, watermarks, extras))();
  } finally {
    db.close();
  }
}

function readDay(
  db: ReadableDb,
  seriesIds: readonly number[],
  watermarks: ReadonlyMap<number, number>,
  extras: boolean,
): { rollup: DayRollup; samples: number } {
  const rollup: DayRollup = { minutes: new Map(), hours: new Map(), watermarks: new Map() };
  let samples = 0;
  const version = userVersion(db);
  const accFor = (id: number): [Map<number, RollupAgg>, Map<number, RollupAgg>] => {
    let m = rollup.minutes.get(id);
    let h = rollup.hours.get(id);
    if (!m || !h) {
      m = new Map();
      h = new Map();
      rollup.minutes.set(id, m);
      rollup.hours.set(id, h);
    }
    return [m, h];
  };
  const mark = (id: number, ts: number) => {
    if (ts > (rollup.watermarks.get(id) ?? watermarks.get(id) ?? -1)) rollup.watermarks.set(id, ts);
  };
  const one = (id: number, ts: number, v: number) => {
    const [m, h] = accFor(id);
    addSample(m, MINUTE_MS, ts, v);
    addSample(h, HOUR_MS, ts, v);
    samples++;
  };

  if (version >= 2) {
    const chunks = db
      .prepare<
        [number, number, number],
        [number, number, number, number | null, number | null, number | null, Uint8Array]
      >(
        "SELECT start_ts, end_ts, count, min, max, sum, data FROM chunks WHERE series_id = ? AND start_ts > ? AND end_ts > ? ORDER BY start_ts",
      )
      .raw(true);
    for (const id of seriesIds) {
      const wm = watermarks.get(id) ?? -1;
      for (const [start, end, count, min, max, sum, data] of chunks.iterate(id, wm - MAX_CHUNK_SPAN_MS, wm)) {
        const [m, h] = accFor(id);
        const whole = start > wm && min !== null && max !== null && sum !== null;
        const sameMinute = Math.floor(start / MINUTE_MS) === Math.floor(end / MINUTE_MS);
        const sameHour = Math.floor(start / HOUR_MS) === Math.floor(end / HOUR_MS);
        if (whole && sameMinute && sameHour) {
          // The aggregate columns answer without decoding.
          addAgg(m, start - (start % MINUTE_MS), count, min, max, sum);
          addAgg(h, start - (start % HOUR_MS), count, min, max, sum);
          samples += count;
        } else if (whole && sameHour) {
          addAgg(h, start - (start % HOUR_MS), count, min, max, sum);
          const { timestamps, values } = decodeChunk(data);
          for (let i = 0; i < timestamps.length; i++)
            addSample(m, MINUTE_MS, timestamps[i] as number, values[i] as number);
          samples += count;
        } else {
          const { timestamps, values } = decodeChunk(data);
          for (let i = 0; i < timestamps.length; i++) {
            const ts = timestamps[i] as number;
            if (ts > wm) one(id, ts, values[i] as number);
          }
        }
        mark(id, end);
      }
    }
  }
  if (!extras) return { rollup, samples };

  if (version >= 1) {
    // Stragglers are rolled up once, when the day is finalized (they are rare and may land anywhere).
    const rows = db
      .prepare<[], [number, number, number]>("SELECT series_id, ts, value FROM samples")
      .raw(true);
    for (const [id, ts, value] of rows.iterate()) one(id, ts, value);
  }
  if (version >= 2) {
    // Samples in the head: newer than what their series has in chunks or samples (older ones are
    // stored there already, or were duplicates). First written wins, as in the engine.
    const lastChunkEnd = db
      .prepare<[number], number>(
        "SELECT end_ts FROM chunks WHERE series_id = ? ORDER BY start_ts DESC LIMIT 1",
      )
      .pluck(true);
    const lastSampleTs = db
      .prepare<[number], number | null>("SELECT max(ts) FROM samples WHERE series_id = ?")
      .pluck(true);
    const stored = new Map<number, number>();
    const seen = new Set<string>();
    const wal = db.prepare<[], Uint8Array>("SELECT batch FROM wal_batches ORDER BY seq").pluck(true);
    for (const blob of wal.iterate() as Iterable<Uint8Array>) {
      const r = decodeWalBatch(blob);
      for (let i = 0; i < r.seriesIds.length; i++) {
        const id = r.seriesIds[i] as number;
        const ts = r.timestamps[i] as number;
        let last = stored.get(id);
        if (last === undefined) {
          last = Math.max(lastChunkEnd.get(id) ?? -1, lastSampleTs.get(id) ?? -1, watermarks.get(id) ?? -1);
          stored.set(id, last);
        }
        if (ts <= last) continue;
        const key = `${id}:${ts}`;
        if (seen.has(key)) continue;
        seen.add(key);
        one(id, ts, r.values[i] as number);
        mark(id, ts);
      }
    }
  }
  return { rollup, samples };
}
