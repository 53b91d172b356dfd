import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Logger, matchesLabels, type SeriesSamples } from "@vigil/common";
import type { Catalog } from "./catalog.js";
import { decodeChunk } from "./chunk-codec.js";
import { dayFilesBetween, dayNumber, dayNumberFileName, samplesDir } from "./data-dir-layout.js";
import { DEFAULT_MAX_OPEN_DAYS } from "./day-file-cache.js";
import { DayFileReader } from "./day-file-reader.js";
import type { Durability } from "./db.js";
import { stepQueryWithRollups } from "./rollup-query.js";
import type { RollupStore } from "./rollups.js";
import {
  MAX_RAW_POINTS_PER_SERIES,
  MAX_STEP_BUCKETS,
  positiveInteger,
  seriesName,
  validateBatch,
  validateQuery,
} from "./sqlite-engine.js";
import { summarizeValues, ValueBuffer, validateStatsQuery } from "./stats.js";
import type {
  AppendResult,
  BucketPoint,
  LatestSample,
  RangeQuery,
  RawPoint,
  SeriesInfo,
  SeriesRange,
  SeriesStats,
  StatsQuery,
  StorageEngine,
} from "./storage-engine.js";
import { StorageError } from "./storage-error.js";
import { DEFAULT_MAX_QUEUED_BATCHES, DEFAULT_MAX_QUEUED_SAMPLES, WriterClient } from "./writer-client.js";
import type { DayColumns, HeadSnapshotDay, HeadSnapshotSeries } from "./writer-protocol.js";

/**
 * An open chunk whose first sample is this many accepted batches old is flushed even if not full, so a
 * series that stopped reporting does not pin `wal_batches` rows (and replay time) for ever.
 */
export const MAX_HEAD_AGE_BATCHES = 1_000;
/** Default cap of each day file's `-wal`: a commit that takes it past this is followed by a truncating checkpoint. */
export const DEFAULT_WAL_MAX_BYTES = 64 * 1024 * 1024;
export { DEFAULT_MAX_QUEUED_BATCHES, DEFAULT_MAX_QUEUED_SAMPLES };

export interface ChunkedStorageEngineOptions {
  /** Samples go to `dataDir/samples/YYYY-MM-DD.db`. */
  readonly dataDir: string;
  /** Resolves series ids; the caller owns it and closes it after the engine. */
  readonly catalog: Catalog;
  readonly logger?: Logger | undefined;
  /** Day files kept open at once by the writer (beyond those with a head) and by readers. Default `DEFAULT_MAX_OPEN_DAYS` (8). */
  readonly maxOpenDays?: number | undefined;
  readonly maxRawPointsPerSeries?: number | undefined;
  readonly maxStepBuckets?: number | undefined;
  /** Default `MAX_HEAD_AGE_BATCHES`. */
  readonly maxHeadAgeBatches?: number | undefined;
  /**
   * Keep day files this many whole UTC days back (an integer ≥ 1); older files are deleted whole at
   * `open` and by `runRetention`. Undefined (the default): keep every file.
   */
  readonly retentionDays?: number | undefined;
  /**
   * Rollups (`rollups.db`): step queries read them for days without a raw file (rollup-query.ts), and
   * with `beforeDeleteDayFile` retention finalizes a day's rollups before deleting its file.
   */
  readonly rollups?: RollupStore | undefined;
  /** Called before retention deletes a day file; false keeps the file (e.g. its rollups failed). */
  readonly beforeDeleteDayFile?: ((day: number, path: string) => boolean) | undefined;
  /** What an acked batch survives (db.ts `Durability`). Default "process". */
  readonly durability?: Durability | undefined;
  /** Cap of each day file's `-wal`, bytes (≥ 64 KiB). Default `DEFAULT_WAL_MAX_BYTES` (64 MiB). */
  readonly walMaxBytes?: number | undefined;
  /** Batches sent to the writer and not yet committed before `appendBatch` refuses with `busy`. Default 64. */
  readonly maxQueuedBatches?: number | undefined;
  /** Samples sent to the writer and not yet committed before `appendBatch` refuses with `busy`. Default 2,500,000. */
  readonly maxQueuedSamples?: number | undefined;
  /**
   * A hard size limit of each day file (SQLite `max_page_count`): a write past it fails as disk full
   * (`SQLITE_FULL`, a retryable `unavailable` error). Undefined (the default): no limit but the disk's.
   */
  readonly maxDayFileBytes?: number | undefined;
  /** The clock retention reads at open (Unix ms); default `Date.now`. The server passes its own. */
  readonly now?: (() => number) | undefined;
}

/** The smallest `walMaxBytes`: below a few pages every commit would checkpoint. */
const MIN_WAL_MAX_BYTES = 64 * 1024;

/**
 * The chunked engine (docs/storage.md). Writes go to a writer thread (writer-worker.ts, writer-core.ts)
 * that owns every write connection and the in-memory head: each accepted batch is appended to its day
 * file's `wal_batches` (batches waiting together share one transaction: group commit) and
 * `appendBatch` resolves after that commit. The head holds per-series chunks; a chunk full, spanning
 * `MAX_CHUNK_SPAN_MS` or idle `maxHeadAgeBatches` is encoded into `chunks`, and `wal_batches` rows
 * nothing in memory needs are deleted. Opening replays `wal_batches`, so a crash loses nothing acked.
 *
 * Queries run on this thread with read-only connections of their own (one short read transaction per
 * statement) plus a snapshot of the head taken from the writer for just the series and days asked, so
 * a long query never stalls ingest. The writer's queue is bounded (`maxQueuedBatches`,
 * `maxQueuedSamples`): past it `appendBatch` rejects at once with a retryable `busy` StorageError; a
 * failed write (disk full, read-only file) rejects with a retryable `unavailable` one, nothing acked.
 *
 * Values must be finite (as in `SqliteStorageEngine`: stragglers live in a REAL column); timestamps
 * integers in [0, 9999-12-31]. Chunks keep values bit-exact, -0 included.
 */
export class ChunkedStorageEngine implements StorageEngine {
  readonly #catalog: Catalog;
  readonly #dir: string;
  readonly #logger: Logger | undefined;
  readonly #maxOpen: number;
  readonly #maxRawPoints: number;
  readonly #maxStepBuckets: number;
  readonly #retentionDays: number | undefined;
  readonly #rollups: RollupStore | undefined;
  readonly #beforeDelete: ((day: number, path: string) => boolean) | undefined;
  readonly #writer: WriterClient;
  /** Read-only connections by day, in recency order (first = least recently used). */
  readonly #readers = new Map<number, DayFileReader>();
  #closed = false;

  private constructor(options: ChunkedStorageEngineOptions) {
    this.#catalog = options.catalog;
    this.#dir = samplesDir(options.dataDir);
    this.#logger = options.logger;
    this.#maxOpen = positiveInteger("maxOpenDays", options.maxOpenDays, DEFAULT_MAX_OPEN_DAYS);
    this.#maxRawPoints = positiveInteger(
      "maxRawPointsPerSeries",
      options.maxRawPointsPerSeries,
      MAX_RAW_POINTS_PER_SERIES,
    );
    this.#maxStepBuckets = positiveInteger("maxStepBuckets", options.maxStepBuckets, MAX_STEP_BUCKETS);
    const maxAge = positiveInteger("maxHeadAgeBatches", options.maxHeadAgeBatches, MAX_HEAD_AGE_BATCHES);
    this.#retentionDays =
      options.retentionDays === undefined
        ? undefined
        : positiveInteger("retentionDays", options.retentionDays, 1);
    this.#rollups = options.rollups;
    this.#beforeDelete = options.beforeDeleteDayFile;
    const durability = options.durability ?? "process";
    if (durability !== "process" && durability !== "power")
      throw new StorageError(
        "invalid_argument",
        `durability must be "process" or "power", not ${JSON.stringify(durability)}`,
      );
    const walMaxBytes = positiveInteger("walMaxBytes", options.walMaxBytes, DEFAULT_WAL_MAX_BYTES);
    if (walMaxBytes < MIN_WAL_MAX_BYTES)
      throw new StorageError(
        "invalid_argument",
        `walMaxBytes must be at least ${MIN_WAL_MAX_BYTES}, not ${walMaxBytes}`,
      );
    const limits = {
      maxBatches: positiveInteger("maxQueuedBatches", options.maxQueuedBatches, DEFAULT_MAX_QUEUED_BATCHES),
      maxSamples: positiveInteger("maxQueuedSamples", options.maxQueuedSamples, DEFAULT_MAX_QUEUED_SAMPLES),
    };
    // Before the writer starts (and replays), so files past retention are not replayed only to be deleted.
    const nowMs = (options.now ?? Date.now)();
    this.#deleteDays(this.#daysPastRetention(nowMs), nowMs);
    this.#writer = new WriterClient(
      {
        dataDir: options.dataDir,
        maxOpenDays: this.#maxOpen,
        maxHeadAgeBatches: maxAge,
        durability,
        walMaxBytes,
        maxDayFileBytes:
          options.maxDayFileBytes === undefined
            ? undefined
            : positiveInteger("maxDayFileBytes", options.maxDayFileBytes, 1),
      },
      limits,
      this.#logger,
    );
    this.#logger?.info(
      {
        durability,
        synchronous: durability === "power" ? "FULL" : "NORMAL",
        walMaxBytes,
        maxQueuedBatches: limits.maxBatches,
        maxQueuedSamples: limits.maxSamples,
      },
      "storage engine opened",
    );
  }

  /**
   * Opens the engine: deletes day files past retention, then starts the writer thread, which replays
   * the `wal_batches` of every day file that has any (what a crash left) before it answers anything,
   * so those samples are in the head before the first query. A start-up failure of the writer (e.g. a
   * day file of a newer format) rejects every later call.
   */
  static open(options: ChunkedStorageEngineOptions): ChunkedStorageEngine {
    return new ChunkedStorageEngine(options);
  }

  /**
   * Deletes the day files (with their `-wal` and `-shm`) whose every sample is more than
   * `retentionDays` days older than `nowMs`: with N days, the file of UTC day d goes once d < today - N,
   * so today and the N days before it stay. Never touches the current day or later ones. The writer
   * closes an open file first (its head, if any, is dropped: those samples are past retention too).
   * Resolves to the deleted day files' paths; nothing without `retentionDays`. The server calls it hourly.
   */
  async runRetention(nowMs: number): Promise<string[]> {
    this.#assertOpen();
    if (!Number.isSafeInteger(nowMs))
      throw new StorageError("invalid_argument", `runRetention: now ${nowMs} is not whole Unix milliseconds`);
    const days = this.#daysPastRetention(nowMs);
    if (days.length === 0) return [];
    for (const day of days) this.#dropReader(day);
    const deleted = await this.#writer.runRetention(days);
    this.#logRetention(deleted.length, nowMs);
    return deleted;
  }

  /** How many day files this thread has open for reading now. */
  get openDayFiles(): number {
    return this.#readers.size;
  }

  /** Batches and samples sent to the writer thread and not yet committed. */
  get queued(): { batches: number; samples: number } {
    return this.#writer.queued;
  }

  /** Changes `maxDayFileBytes` of every day file, open ones included; undefined lifts the limit. */
  async setMaxDayFileBytes(bytes: number | undefined): Promise<void> {
    this.#assertOpen();
    if (bytes !== undefined) positiveInteger("maxDayFileBytes", bytes, 1);
    await this.#writer.setMaxDayFileBytes(bytes);
  }

  async appendBatch(agentId: string, series: readonly SeriesSamples[]): Promise<AppendResult> {
    this.#assertOpen();
    const total = validateBatch(agentId, series);
    if (total === 0) return { accepted: 0, duplicates: 0 };
    // Refuse a full queue before any per-sample work.
    this.#writer.reserve(total);
    let days: DayColumns[];
    try {
      days = toDayColumns(this.#catalog.seriesIds(agentId, series), series, total);
    } catch (err) {
      this.#writer.release(total);
      throw err;
    }
    let accepted: number;
    try {
      accepted = await this.#writer.append(agentId, days, total);
    } catch (err) {
      // A write that failed on the disk (full, read-only...): SQLite shares one -shm per file between
      // all of this process's connections, and one opened while the -shm was not writable stays
      // read-only while any connection holds it. So this thread's readers of those days let go, and
      // the writer's next reopen can get a writable connection once the file is writable again.
      if (err instanceof StorageError && err.code === "unavailable")
        for (const d of days) this.#dropReader(d.day);
      throw err;
    }
    return { accepted, duplicates: total - accepted };
  }

  queryRange(query: RangeQuery & { stepMs?: undefined }): Promise<SeriesRange<RawPoint>[]>;
  queryRange(query: RangeQuery & { stepMs: number }): Promise<SeriesRange<BucketPoint>[]>;
  queryRange(query: RangeQuery): Promise<SeriesRange<RawPoint>[] | SeriesRange<BucketPoint>[]>;
  async queryRange(query: RangeQuery): Promise<SeriesRange<RawPoint>[] | SeriesRange<BucketPoint>[]> {
    this.#assertOpen();
    validateQuery(query, this.#maxStepBuckets);
    const selected = this.#catalog
      .findSeries({ agentId: query.agentId, metric: query.metric })
      .filter((s) => matchesLabels(s.labels, query.matchers));
    if (selected.length === 0) return [];
    const days = dayFilesBetween(this.#dir, dayNumber(query.fromMs), dayNumber(query.toMs));
    const snap = await this.#snapshot(days, selected, query.fromMs, query.toMs);
    const { stepMs } = query;
    if (stepMs !== undefined && this.#rollups)
      return stepQueryWithRollups(this.#rollups, query, stepMs, selected, days, (d) =>
        this.#readSteps(query, stepMs, selected, d, snap),
      );
    return stepMs === undefined
      ? this.#readRaw(query, selected, days, snap)
      : this.#readSteps(query, stepMs, selected, days, snap);
  }

  /**
   * min, max, avg, p95 (nearest rank, see `SeriesStats`) and count per selected series over
   * [fromMs, toMs], from chunks (decoded: p95 needs every value), stragglers and the head.
   */
  async queryStats(query: StatsQuery): Promise<SeriesStats[]> {
    this.#assertOpen();
    validateStatsQuery(query);
    const { fromMs, toMs } = query;
    const selected = this.#catalog
      .findSeries({ agentId: query.agentId, metric: query.metric })
      .filter((s) => matchesLabels(s.labels, query.matchers));
    if (selected.length === 0) return [];
    const days = dayFilesBetween(this.#dir, dayNumber(fromMs), dayNumber(toMs));
    const snap = await this.#snapshot(days, selected, fromMs, toMs);
    const buffers = selected.map(() => new ValueBuffer());
    for (const day of days) {
      const reader = this.#reader(day);
      const heads = snap.get(day);
      selected.forEach((s, i) => {
        const buf = buffers[i] as ValueBuffer;
        const head = heads?.get(s.id);
        if (reader) {
          for (const [start, end, , , , , data] of reader.chunksInRange(s.id, fromMs, toMs, cutoffOf(head))) {
            const { timestamps, values } = decodeChunk(data);
            const inside = start >= fromMs && end <= toMs;
            for (let j = 0; j < timestamps.length; j++) {
              const ts = timestamps[j] as number;
              if (inside || (ts >= fromMs && ts <= toMs)) buf.push(values[j] as number);
            }
          }
          for (const [, v] of reader.samplesInRange(s.id, fromMs, toMs)) buf.push(v);
        }
        if (head) for (const v of head.values) buf.push(v);
      });
    }
    return selected.flatMap((s, i) => {
      const buf = buffers[i] as ValueBuffer;
      const summary = summarizeValues(buf.values, buf.length);
      return summary ? [{ labels: s.labels, ...summary }] : [];
    });
  }

  /**
   * The newest sample of every series of the agent (of `metric` when given): from the head when the
   * series has samples in memory (they are always newer than what its file holds), else from the
   * last chunk or straggler of the newest day file that has the series. Day files are visited newest
   * first and only until every series is found.
   */
  async latest(query: { agentId: string; metric?: string | undefined }): Promise<LatestSample[]> {
    this.#assertOpen();
    if (typeof query.agentId !== "string" || query.agentId === "")
      throw new StorageError("invalid_query", "query has an empty agent id");
    const series = this.#catalog.findSeries({ agentId: query.agentId, metric: query.metric });
    if (series.length === 0) return [];
    const inHead = new Map<number, Map<number, RawPoint>>();
    for (const h of await this.#writer.latest(series.map((s) => s.id))) {
      const m = inHead.get(h.day) ?? new Map<number, RawPoint>();
      inHead.set(h.day, m);
      m.set(h.id, [h.ts, h.value]);
    }
    const found = new Array<RawPoint | undefined>(series.length);
    let remaining = series.map((_, i) => i);
    const days = dayFilesBetween(this.#dir, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY).reverse();
    for (const day of days) {
      if (remaining.length === 0) break;
      const heads = inHead.get(day);
      const reader = this.#reader(day);
      remaining = remaining.filter((i) => {
        const id = (series[i] as SeriesInfo).id;
        const p = heads?.get(id) ?? reader?.lastStored(id);
        found[i] = p;
        return p === undefined;
      });
    }
    return series.flatMap((s, i) => {
      const p = found[i];
      return p ? [{ metric: s.metric, labels: s.labels, ts: p[0], value: p[1] }] : [];
    });
  }

  async listSeries(filter: {
    agentId?: string | undefined;
    metric?: string | undefined;
  }): Promise<SeriesInfo[]> {
    this.#assertOpen();
    return this.#catalog.findSeries(filter);
  }

  /** Commits what is queued, flushes every head into chunks (emptying `wal_batches`) and closes. */
  async close(): Promise<void> {
    if (this.#closed) throw new StorageError("closed", "storage engine is already closed");
    this.#closed = true;
    for (const r of this.#readers.values()) r.close();
    this.#readers.clear();
    await this.#writer.close();
    this.#logger?.debug("storage engine closed");
  }

  /** The head's points of the selected series in the range, per day then series id. */
  async #snapshot(
    days: number[],
    selected: readonly SeriesInfo[],
    fromMs: number,
    toMs: number,
  ): Promise<Map<number, Map<number, HeadSnapshotSeries>>> {
    const out = new Map<number, Map<number, HeadSnapshotSeries>>();
    if (days.length === 0) return out;
    const snap: HeadSnapshotDay[] = await this.#writer.snapshot(
      days,
      selected.map((s) => s.id),
      fromMs,
      toMs,
    );
    for (const d of snap) out.set(d.day, new Map(d.series.map((s) => [s.id, s])));
    return out;
  }

  /** The read connection of `day`; undefined when the file is missing (or not yet initialised). */
  #reader(day: number): DayFileReader | undefined {
    const cached = this.#readers.get(day);
    if (cached) {
      this.#readers.delete(day);
      this.#readers.set(day, cached);
      return cached;
    }
    const reader = DayFileReader.open(join(this.#dir, dayNumberFileName(day)), day);
    if (!reader) return undefined;
    this.#readers.set(day, reader);
    while (this.#readers.size > this.#maxOpen) {
      const [oldestDay, oldest] = this.#readers.entries().next().value as [number, DayFileReader];
      this.#readers.delete(oldestDay);
      oldest.close();
    }
    return reader;
  }

  #dropReader(day: number): void {
    const r = this.#readers.get(day);
    if (r) {
      r.close();
      this.#readers.delete(day);
    }
  }

  /** Days past retention whose deletion `beforeDeleteDayFile` allows. */
  #daysPastRetention(nowMs: number): number[] {
    if (this.#retentionDays === undefined) return [];
    const cutoff = dayNumber(nowMs) - this.#retentionDays;
    return dayFilesBetween(this.#dir, Number.NEGATIVE_INFINITY, cutoff - 1).filter(
      (day) => !this.#beforeDelete || this.#beforeDelete(day, join(this.#dir, dayNumberFileName(day))),
    );
  }

  /** At open, before the writer runs: nothing has the files open yet. */
  #deleteDays(days: number[], nowMs: number): void {
    for (const day of days) {
      const path = join(this.#dir, dayNumberFileName(day));
      // The -wal first: a -wal left behind by a crash here would be applied to a later file of that day.
      for (const suffix of ["-wal", "-shm", ""]) rmSync(`${path}${suffix}`, { force: true });
    }
    this.#logRetention(days.length, nowMs);
  }

  #logRetention(files: number, nowMs: number): void {
    if (files > 0 && this.#retentionDays !== undefined)
      this.#logger?.info(
        {
          files,
          retentionDays: this.#retentionDays,
          oldestKept: dayNumberFileName(dayNumber(nowMs) - this.#retentionDays),
        },
        "retention deleted day files",
      );
  }

  #readRaw(
    query: RangeQuery,
    selected: SeriesInfo[],
    days: number[],
    snap: Map<number, Map<number, HeadSnapshotSeries>>,
  ): SeriesRange<RawPoint>[] {
    const { fromMs, toMs } = query;
    const points = selected.map((): RawPoint[] => []);
    for (const day of days) {
      const reader = this.#reader(day);
      const heads = snap.get(day);
      selected.forEach((s, i) => {
        const out: RawPoint[] = [];
        const head = heads?.get(s.id);
        let unsorted = false;
        if (reader) {
          for (const [, , , , , , data] of reader.chunksInRange(s.id, fromMs, toMs, cutoffOf(head))) {
            const { timestamps, values } = decodeChunk(data);
            for (let j = 0; j < timestamps.length; j++) {
              const ts = timestamps[j] as number;
              if (ts >= fromMs && ts <= toMs) out.push([ts, values[j] as number]);
            }
          }
          const stragglers = reader.samplesInRange(s.id, fromMs, toMs);
          unsorted = stragglers.length > 0;
          for (const p of stragglers) out.push(p);
        }
        if (head && head.timestamps.length > 0) {
          for (let j = 0; j < head.timestamps.length; j++)
            out.push([head.timestamps[j] as number, head.values[j] as number]);
          unsorted = true;
        }
        if (unsorted) out.sort((a, b) => a[0] - b[0]);
        const acc = points[i] as RawPoint[];
        if (acc.length + out.length > this.#maxRawPoints) {
          throw new StorageError(
            "too_many_points",
            `raw query for ${seriesName(s.metric, s.labels)} of agent "${s.agentId}" would return more than ` +
              `${this.#maxRawPoints} points; narrow the range or pass a step`,
          );
        }
        for (const p of out) acc.push(p);
      });
    }
    return selected.flatMap((s, i) => {
      const p = points[i] as RawPoint[];
      return p.length > 0 ? [{ labels: s.labels, points: p }] : [];
    });
  }

  #readSteps(
    query: RangeQuery,
    stepMs: number,
    selected: SeriesInfo[],
    days: number[],
    snap: Map<number, Map<number, HeadSnapshotSeries>>,
  ): SeriesRange<BucketPoint>[] {
    const { fromMs, toMs } = query;
    const buckets = selected.map(() => new Map<number, [number, number, number, number]>());
    const add = (
      acc: Map<number, [number, number, number, number]>,
      k: number,
      sum: number,
      min: number,
      max: number,
      count: number,
    ) => {
      const b = acc.get(k);
      if (b) {
        b[0] += sum;
        if (min < b[1]) b[1] = min;
        if (max > b[2]) b[2] = max;
        b[3] += count;
      } else acc.set(k, [sum, min, max, count]);
    };
    for (const day of days) {
      const reader = this.#reader(day);
      const heads = snap.get(day);
      selected.forEach((s, i) => {
        const acc = buckets[i] as Map<number, [number, number, number, number]>;
        const one = (ts: number, v: number) => {
          if (ts >= fromMs && ts <= toMs) add(acc, Math.floor((ts - fromMs) / stepMs), v, v, v, 1);
        };
        const head = heads?.get(s.id);
        if (reader) {
          for (const [start, end, count, min, max, sum, data] of reader.chunksInRange(
            s.id,
            fromMs,
            toMs,
            cutoffOf(head),
          )) {
            const k = Math.floor((start - fromMs) / stepMs);
            if (start >= fromMs && end <= toMs && Math.floor((end - fromMs) / stepMs) === k) {
              // The whole chunk is in one bucket: its aggregate columns answer without decoding.
              add(acc, k, sum, min, max, count);
              continue;
            }
            const { timestamps, values } = decodeChunk(data);
            for (let j = 0; j < timestamps.length; j++) one(timestamps[j] as number, values[j] as number);
          }
          for (const [ts, v] of reader.samplesInRange(s.id, fromMs, toMs)) one(ts, v);
        }
        if (head)
          for (let j = 0; j < head.timestamps.length; j++)
            one(head.timestamps[j] as number, head.values[j] as number);
      });
    }
    return selected.flatMap((s, i) => {
      const acc = buckets[i] as Map<number, [number, number, number, number]>;
      if (acc.size === 0) return [];
      const points = [...acc.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(
          ([k, [sum, min, max, count]]): BucketPoint => [fromMs + k * stepMs, sum / count, min, max, count],
        );
      return [{ labels: s.labels, points }];
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError("closed", "storage engine is closed");
  }
}

/** Chunks starting after this were flushed after the head snapshot (which has their samples). */
function cutoffOf(head: HeadSnapshotSeries | undefined): number {
  return head ? head.flushedEnd : Number.POSITIVE_INFINITY;
}

/**
 * A batch's samples as columns per UTC day, in Float64Arrays the writer thread gets by transfer. One
 * pass for the usual batch (one tick, one day); a batch crossing midnight is split in a second pass.
 */
function toDayColumns(ids: readonly number[], series: readonly SeriesSamples[], total: number): DayColumns[] {
  const seriesIds = new Float64Array(total);
  const timestamps = new Float64Array(total);
  const values = new Float64Array(total);
  let k = 0;
  let first = 0;
  let mixed = false;
  for (let s = 0; s < series.length; s++) {
    const { timestamps: ts, values: vs } = series[s] as SeriesSamples;
    const id = ids[s] as number;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i] as number;
      const day = dayNumber(t);
      if (k === 0) first = day;
      else if (day !== first) mixed = true;
      seriesIds[k] = id;
      timestamps[k] = t;
      values[k] = vs[i] as number;
      k++;
    }
  }
  if (!mixed) return [{ day: first, seriesIds, timestamps, values }];
  const counts = new Map<number, number>();
  for (let j = 0; j < total; j++) {
    const day = dayNumber(timestamps[j] as number);
    counts.set(day, (counts.get(day) ?? 0) + 1);
  }
  const out = new Map<number, { cols: DayColumns; n: number }>();
  for (const [day, n] of counts)
    out.set(day, {
      cols: {
        day,
        seriesIds: new Float64Array(n),
        timestamps: new Float64Array(n),
        values: new Float64Array(n),
      },
      n: 0,
    });
  for (let j = 0; j < total; j++) {
    const t = timestamps[j] as number;
    const o = out.get(dayNumber(t)) as { cols: DayColumns; n: number };
    o.cols.seriesIds[o.n] = seriesIds[j] as number;
    o.cols.timestamps[o.n] = t;
    o.cols.values[o.n] = values[j] as number;
    o.n++;
  }
  return [...out.values()].map((o) => o.cols);
}
