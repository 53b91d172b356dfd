import {
  canonicalLabels,
  type Logger,
  METRIC_NAME_RE,
  matchesLabels,
  type SeriesSamples,
} from "@vigil/common";
import type { Catalog } from "./catalog.js";
import { dayFilesBetween, dayNumber, MAX_TIMESTAMP_MS, samplesDir } from "./data-dir-layout.js";
import type { BucketPartial, DayRows } from "./day-file.js";
import { DayFileCache, DEFAULT_MAX_OPEN_DAYS } from "./day-file-cache.js";
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

/**
 * Most raw points one query returns per series. A day of 1 s samples is 86,400 points; past this the
 * caller must narrow the range or ask for step buckets. Exceeding it is an error, never a silent cut.
 */
export const MAX_RAW_POINTS_PER_SERIES = 100_000;

/** Most step buckets one query may span (Prometheus' limit of 11,000 points per series). */
export const MAX_STEP_BUCKETS = 11_000;

export interface SqliteStorageEngineOptions {
  /** Samples go to `dataDir/samples/YYYY-MM-DD.db`. */
  readonly dataDir: string;
  /** Resolves series ids; the caller owns it and closes it after the engine. */
  readonly catalog: Catalog;
  readonly logger?: Logger | undefined;
  /** Day files kept open at once. Default `DEFAULT_MAX_OPEN_DAYS` (8). */
  readonly maxOpenDays?: number | undefined;
  /** Default `MAX_RAW_POINTS_PER_SERIES`. */
  readonly maxRawPointsPerSeries?: number | undefined;
  /** Default `MAX_STEP_BUCKETS`. */
  readonly maxStepBuckets?: number | undefined;
}

/**
 * The embedded engine of the foundation milestone: one row per sample in daily SQLite files
 * (`samples/YYYY-MM-DD.db`, UTC days), series ids from the catalog.
 *
 * - Writes: a batch is split by UTC day, each day written in one transaction with `INSERT OR IGNORE`,
 *   so a resent batch (at-least-once delivery) is counted as duplicates and changes nothing. A batch
 *   spanning midnight commits two files one after the other; if the second fails the caller gets an
 *   error, the agent resends, and the first file ignores what it already has.
 * - Durability: `appendBatch` resolves after commit; WAL + `synchronous = NORMAL` means committed data
 *   survives a process crash but a power loss can take the last commits.
 * - Values must be finite: SQLite REAL has no NaN (it stores NULL), so a batch with NaN or ±Infinity is
 *   refused whole (`invalid_batch`), before anything is written; the protocol layer refuses them first.
 *   Timestamps must be integers in [0, 9999-12-31]. Other doubles round-trip exactly, except that -0
 *   reads back as 0 (SQLite stores integral REALs as integers).
 * - All work is synchronous inside the async methods; the writer-worker milestone moves it off the
 *   event loop behind this same interface.
 */
export class SqliteStorageEngine implements StorageEngine {
  readonly #catalog: Catalog;
  readonly #samplesDir: string;
  readonly #files: DayFileCache;
  readonly #logger: Logger | undefined;
  readonly #maxRawPoints: number;
  readonly #maxStepBuckets: number;
  #closed = false;

  private constructor(options: SqliteStorageEngineOptions) {
    this.#catalog = options.catalog;
    this.#samplesDir = samplesDir(options.dataDir);
    this.#logger = options.logger;
    this.#files = new DayFileCache(
      this.#samplesDir,
      options.maxOpenDays ?? DEFAULT_MAX_OPEN_DAYS,
      options.logger,
    );
    this.#maxRawPoints = positiveInteger(
      "maxRawPointsPerSeries",
      options.maxRawPointsPerSeries,
      MAX_RAW_POINTS_PER_SERIES,
    );
    this.#maxStepBuckets = positiveInteger("maxStepBuckets", options.maxStepBuckets, MAX_STEP_BUCKETS);
  }

  /** Opens the engine. Nothing is created on disk until the first write. */
  static open(options: SqliteStorageEngineOptions): SqliteStorageEngine {
    return new SqliteStorageEngine(options);
  }

  /** How many day files are open now (bounded by `maxOpenDays`). */
  get openDayFiles(): number {
    return this.#files.size;
  }

  /**
   * Writes the samples, one transaction per UTC day, and resolves after the commits. Rejects with
   * `invalid_batch` (nothing written) for a bad value, timestamp, metric name or length mismatch.
   */
  async appendBatch(agentId: string, series: readonly SeriesSamples[]): Promise<AppendResult> {
    this.#assertOpen();
    const total = validateBatch(agentId, series);
    if (total === 0) return { accepted: 0, duplicates: 0 };
    const ids = this.#catalog.seriesIds(agentId, series);

    const byDay = new Map<number, DayRows>();
    for (let s = 0; s < series.length; s++) {
      const { timestamps, values } = series[s] as SeriesSamples;
      const id = ids[s] as number;
      for (let i = 0; i < timestamps.length; i++) {
        const ts = timestamps[i] as number;
        const day = dayNumber(ts);
        let rows = byDay.get(day);
        if (!rows) {
          rows = { seriesIds: [], timestamps: [], values: [] };
          byDay.set(day, rows);
        }
        rows.seriesIds.push(id);
        rows.timestamps.push(ts);
        rows.values.push(values[i] as number);
      }
    }

    let accepted = 0;
    for (const day of [...byDay.keys()].sort((a, b) => a - b)) {
      accepted += this.#files.getOrCreate(day).append(byDay.get(day) as DayRows);
    }
    return { accepted, duplicates: total - accepted };
  }

  /**
   * Points of the agent's series of `metric` that satisfy every matcher, ordered by canonical labels.
   * Series without a point in the range are left out. Reads only the day files the range touches that
   * exist. Rejects with a `StorageError`: `invalid_query` (from > to, non-integer times, step <= 0, more
   * than `MAX_STEP_BUCKETS` buckets) or `too_many_points` (a raw series past `MAX_RAW_POINTS_PER_SERIES`).
   */
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
    const days = dayFilesBetween(this.#samplesDir, dayNumber(query.fromMs), dayNumber(query.toMs));
    return query.stepMs === undefined
      ? this.#readRaw(query, selected, days)
      : this.#readSteps(query, query.stepMs, selected, days);
  }

  /** Per selected series: min, max, avg, p95 (nearest rank) and count over the range. */
  async queryStats(query: StatsQuery): Promise<SeriesStats[]> {
    this.#assertOpen();
    validateStatsQuery(query);
    const selected = this.#catalog
      .findSeries({ agentId: query.agentId, metric: query.metric })
      .filter((s) => matchesLabels(s.labels, query.matchers));
    if (selected.length === 0) return [];
    const buffers = selected.map(() => new ValueBuffer());
    for (const day of dayFilesBetween(this.#samplesDir, dayNumber(query.fromMs), dayNumber(query.toMs))) {
      const file = this.#files.getExisting(day);
      if (!file) continue;
      selected.forEach((s, i) => {
        const buf = buffers[i] as ValueBuffer;
        for (const [, v] of file.readRaw(s.id, query.fromMs, query.toMs, -1)) buf.push(v);
      });
    }
    return selected.flatMap((s, i) => {
      const buf = buffers[i] as ValueBuffer;
      const summary = summarizeValues(buf.values, buf.length);
      return summary ? [{ labels: s.labels, ...summary }] : [];
    });
  }

  /** Per series of the agent (of `metric` when given), its newest sample: newest day files first. */
  async latest(query: { agentId: string; metric?: string | undefined }): Promise<LatestSample[]> {
    this.#assertOpen();
    if (typeof query.agentId !== "string" || query.agentId === "")
      throw new StorageError("invalid_query", "query has an empty agent id");
    const series = this.#catalog.findSeries({ agentId: query.agentId, metric: query.metric });
    const found = new Array<RawPoint | undefined>(series.length);
    let remaining = series.map((_, i) => i);
    for (const day of dayFilesBetween(
      this.#samplesDir,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ).reverse()) {
      if (remaining.length === 0) break;
      const file = this.#files.getExisting(day);
      if (!file) continue;
      remaining = remaining.filter((i) => {
        found[i] = file.last((series[i] as SeriesInfo).id);
        return found[i] === undefined;
      });
    }
    return series.flatMap((s, i) => {
      const p = found[i];
      return p ? [{ metric: s.metric, labels: s.labels, ts: p[0], value: p[1] }] : [];
    });
  }

  /** Known series (with or without recent samples), by agent, metric, then canonical labels. */
  async listSeries(filter: {
    agentId?: string | undefined;
    metric?: string | undefined;
  }): Promise<SeriesInfo[]> {
    this.#assertOpen();
    return this.#catalog.findSeries(filter);
  }

  /**
   * Closes every day file (closing the last connection checkpoints the WAL into the file). The catalog
   * stays open: its owner closes it after this. Calling it twice rejects, like every call after it.
   */
  async close(): Promise<void> {
    if (this.#closed) throw new StorageError("closed", "storage engine is already closed");
    this.#closed = true;
    this.#files.closeAll();
    this.#logger?.debug("storage engine closed");
  }

  #readRaw(query: RangeQuery, selected: SeriesInfo[], days: number[]): SeriesRange<RawPoint>[] {
    const points = selected.map((): RawPoint[] => []);
    // Days outside, series inside: each file is opened once per query however many series it serves.
    for (const day of days) {
      const file = this.#files.getExisting(day);
      if (!file) continue;
      selected.forEach((s, i) => {
        const acc = points[i] as RawPoint[];
        const room = this.#maxRawPoints - acc.length;
        const rows = file.readRaw(s.id, query.fromMs, query.toMs, room + 1);
        if (rows.length > room) {
          throw new StorageError(
            "too_many_points",
            `raw query for ${seriesName(s.metric, s.labels)} of agent "${s.agentId}" would return more than ` +
              `${this.#maxRawPoints} points; narrow the range or pass a step`,
          );
        }
        for (const row of rows) acc.push(row);
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
  ): SeriesRange<BucketPoint>[] {
    const partials = selected.map((): BucketPartial[] => []);
    for (const day of days) {
      const file = this.#files.getExisting(day);
      if (!file) continue;
      selected.forEach((s, i) => {
        const acc = partials[i] as BucketPartial[];
        for (const b of file.readBuckets(s.id, query.fromMs, query.toMs, stepMs)) {
          const last = acc.at(-1);
          // Files come in day order, so only a bucket straddling midnight appears twice, back to back.
          if (last && last[0] === b[0]) {
            last[1] += b[1];
            last[2] = Math.min(last[2], b[2]);
            last[3] = Math.max(last[3], b[3]);
            last[4] += b[4];
          } else acc.push(b);
        }
      });
    }
    return selected.flatMap((s, i) => {
      const acc = partials[i] as BucketPartial[];
      if (acc.length === 0) return [];
      const points = acc.map(
        ([k, sum, min, max, count]): BucketPoint => [query.fromMs + k * stepMs, sum / count, min, max, count],
      );
      return [{ labels: s.labels, points }];
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError("closed", "storage engine is closed");
  }
}

/** Checks the whole batch before anything is written; returns its sample count. */
export function validateBatch(agentId: string, series: readonly SeriesSamples[]): number {
  if (typeof agentId !== "string" || agentId === "")
    throw new StorageError("invalid_batch", "batch has an empty agent id");
  let total = 0;
  for (let s = 0; s < series.length; s++) {
    const { metric, labels, timestamps, values } = series[s] as SeriesSamples;
    const where = () => `batch from agent "${agentId}": series ${s} (${seriesName(metric, labels)})`;
    if (typeof metric !== "string" || !METRIC_NAME_RE.test(metric)) {
      throw new StorageError(
        "invalid_batch",
        `batch from agent "${agentId}": series ${s} has an invalid metric name "${String(metric)}"`,
      );
    }
    if (timestamps.length !== values.length) {
      throw new StorageError(
        "invalid_batch",
        `${where()} has ${timestamps.length} timestamps but ${values.length} values`,
      );
    }
    for (let i = 0; i < timestamps.length; i++) {
      const ts = timestamps[i] as number;
      if (!Number.isSafeInteger(ts) || ts < 0 || ts > MAX_TIMESTAMP_MS) {
        throw new StorageError(
          "invalid_batch",
          `${where()}: timestamp ${ts} at position ${i} is not whole Unix milliseconds between 0 and ${MAX_TIMESTAMP_MS}`,
        );
      }
      const value = values[i] as number;
      if (!Number.isFinite(value)) {
        throw new StorageError(
          "invalid_batch",
          `${where()}: value ${value} at position ${i} is not finite (SQLite REAL cannot store NaN or Infinity)`,
        );
      }
    }
    total += timestamps.length;
  }
  return total;
}

export function validateQuery(query: RangeQuery, maxStepBuckets: number): void {
  const { fromMs, toMs, stepMs } = query;
  if (typeof query.agentId !== "string" || query.agentId === "")
    throw new StorageError("invalid_query", "query has an empty agent id");
  if (typeof query.metric !== "string" || query.metric === "")
    throw new StorageError("invalid_query", "query has an empty metric name");
  if (!Number.isSafeInteger(fromMs))
    throw new StorageError("invalid_query", `fromMs ${fromMs} is not whole Unix milliseconds`);
  if (!Number.isSafeInteger(toMs))
    throw new StorageError("invalid_query", `toMs ${toMs} is not whole Unix milliseconds`);
  if (fromMs > toMs) throw new StorageError("invalid_query", `fromMs ${fromMs} is after toMs ${toMs}`);
  if (stepMs !== undefined) {
    if (!Number.isSafeInteger(stepMs) || stepMs <= 0) {
      throw new StorageError(
        "invalid_query",
        `stepMs ${stepMs} must be a whole number of milliseconds above 0`,
      );
    }
    const buckets = Math.floor((toMs - fromMs) / stepMs) + 1;
    if (buckets > maxStepBuckets) {
      throw new StorageError(
        "invalid_query",
        `step ${stepMs} ms over ${toMs - fromMs} ms makes ${buckets} buckets, more than ${maxStepBuckets}; ` +
          `use a step of at least ${Math.ceil((toMs - fromMs + 1) / maxStepBuckets)} ms`,
      );
    }
  }
}

/** `metric{"a":"1"}` for messages: the canonical labels, so a series reads the same everywhere. */
export function seriesName(metric: string, labels: SeriesSamples["labels"]): string {
  return `${metric}${canonicalLabels(labels)}`;
}

export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be an integer >= 1, not ${value}`);
  return value;
}
