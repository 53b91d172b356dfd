import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Logger, matchesLabels, type SeriesSamples } from "@vigil/common";
import type { Catalog } from "./catalog.js";
import { decodeChunk } from "./chunk-codec.js";
import { ChunkDayFile } from "./chunk-day-file.js";
import { dayNumber, dayNumberFileName, parseDayFileName, samplesDir } from "./data-dir-layout.js";
import { DEFAULT_MAX_OPEN_DAYS } from "./day-file-cache.js";
import { Applied, DayHead } from "./head.js";
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
import { encodeWalBatch, type SampleRows } from "./wal-batch-codec.js";

/**
 * An open chunk whose first sample is this many accepted batches old is flushed even if not full, so a
 * series that stopped reporting does not pin `wal_batches` rows (and replay time) for ever.
 */
export const MAX_HEAD_AGE_BATCHES = 1_000;
/** How often (in batches) the head is scanned for chunks past `MAX_HEAD_AGE_BATCHES`. */
const AGE_SCAN_INTERVAL_BATCHES = 100;

export interface ChunkedStorageEngineOptions {
  /** Samples go to `dataDir/samples/YYYY-MM-DD.db`. */
  readonly dataDir: string;
  /** Resolves series ids; the caller owns it and closes it after the engine. */
  readonly catalog: Catalog;
  readonly logger?: Logger | undefined;
  /** Day files without a head kept open at once. Default `DEFAULT_MAX_OPEN_DAYS` (8). */
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
}

interface Pending {
  readonly agentId: string;
  /** Per UTC day, the batch's samples of that day. */
  readonly byDay: Map<number, SampleRows>;
  readonly total: number;
  accepted: number;
  failed: unknown;
  readonly resolve: (r: AppendResult) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The chunked engine (docs/storage.md): each accepted batch is appended to its day file's `wal_batches`
 * (batches waiting together share one transaction: group commit), and `appendBatch` resolves after that
 * commit. The samples go into an in-memory head of per-series chunks; a chunk full, spanning
 * `MAX_CHUNK_SPAN_MS` or idle `maxHeadAgeBatches` is encoded into `chunks`, and `wal_batches` rows
 * nothing in memory needs are deleted in the same transaction. Opening a day file replays its
 * `wal_batches`, so a crash loses nothing acked. Samples older than their series' last flushed chunk go
 * to `samples`. Queries merge chunks, stragglers and the head.
 *
 * Values must be finite (as in `SqliteStorageEngine`: stragglers live in a REAL column); timestamps
 * integers in [0, 9999-12-31]. Chunks keep values bit-exact, -0 included.
 *
 * All work runs synchronously on the caller's thread, between event-loop turns; moving the writer into a
 * worker thread is the next step (issue 6).
 */
export class ChunkedStorageEngine implements StorageEngine {
  readonly #catalog: Catalog;
  readonly #dir: string;
  readonly #logger: Logger | undefined;
  readonly #maxOpen: number;
  readonly #maxRawPoints: number;
  readonly #maxStepBuckets: number;
  readonly #maxAge: number;
  readonly #retentionDays: number | undefined;
  /** Open day files, with their head; in recency order (first = least recently used). */
  readonly #heads = new Map<number, DayHead>();
  #pending: Pending[] = [];
  #drainScheduled = false;
  /** Batches accepted so far: the clock of chunk ageing. */
  #tick = 0;
  #lastAgeScan = 0;
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
    this.#maxAge = positiveInteger("maxHeadAgeBatches", options.maxHeadAgeBatches, MAX_HEAD_AGE_BATCHES);
    this.#retentionDays =
      options.retentionDays === undefined
        ? undefined
        : positiveInteger("retentionDays", options.retentionDays, 1);
  }

  /**
   * Opens the engine and replays the `wal_batches` of every day file that has any (what a crash left),
   * so their samples are in the head before the first query.
   */
  static open(options: ChunkedStorageEngineOptions): ChunkedStorageEngine {
    const engine = new ChunkedStorageEngine(options);
    // Before recovery, so files past retention are not replayed only to be deleted.
    engine.runRetention(Date.now());
    engine.#recover();
    return engine;
  }

  /**
   * Deletes the day files (with their `-wal` and `-shm`) whose every sample is more than
   * `retentionDays` days older than `nowMs`: with N days, the file of UTC day d goes once d < today - N,
   * so today and the N days before it stay. Never touches the current day or later ones. An open file is
   * closed first (its head, if any, is dropped: those samples are past retention too). Returns the
   * deleted day files' paths; nothing without `retentionDays`. The server calls it hourly.
   */
  runRetention(nowMs: number): string[] {
    this.#assertOpen();
    if (this.#retentionDays === undefined) return [];
    if (!Number.isSafeInteger(nowMs))
      throw new StorageError("invalid_argument", `runRetention: now ${nowMs} is not whole Unix milliseconds`);
    const cutoff = dayNumber(nowMs) - this.#retentionDays;
    const deleted: string[] = [];
    for (const day of this.#daysWithFiles(Number.NEGATIVE_INFINITY, cutoff - 1)) {
      const head = this.#heads.get(day);
      if (head) {
        head.file.close();
        this.#heads.delete(day);
      }
      const path = join(this.#dir, dayNumberFileName(day));
      // The -wal first: a -wal left behind by a crash here would be applied to a later file of that day.
      for (const suffix of ["-wal", "-shm", ""]) rmSync(`${path}${suffix}`, { force: true });
      deleted.push(path);
    }
    if (deleted.length > 0)
      this.#logger?.info(
        { files: deleted.length, retentionDays: this.#retentionDays, oldestKept: dayNumberFileName(cutoff) },
        "retention deleted day files",
      );
    return deleted;
  }

  /** How many day files are open now. */
  get openDayFiles(): number {
    return this.#heads.size;
  }

  async appendBatch(agentId: string, series: readonly SeriesSamples[]): Promise<AppendResult> {
    this.#assertOpen();
    const total = validateBatch(agentId, series);
    if (total === 0) return { accepted: 0, duplicates: 0 };
    const ids = this.#catalog.seriesIds(agentId, series);
    const byDay = new Map<number, SampleRows>();
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
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ agentId, byDay, total, accepted: 0, failed: undefined, resolve, reject });
      if (!this.#drainScheduled) {
        this.#drainScheduled = true;
        setImmediate(() => this.#drain());
      }
    });
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
    const days = this.#daysWithFiles(dayNumber(query.fromMs), dayNumber(query.toMs));
    return query.stepMs === undefined
      ? this.#readRaw(query, selected, days)
      : this.#readSteps(query, query.stepMs, selected, days);
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
    const buffers = selected.map(() => new ValueBuffer());
    for (const day of this.#daysWithFiles(dayNumber(fromMs), dayNumber(toMs))) {
      const head = this.#head(day, false);
      if (!head) continue;
      selected.forEach((s, i) => {
        const buf = buffers[i] as ValueBuffer;
        for (const [start, end, , , , , data] of head.file.chunksInRange(s.id, fromMs, toMs)) {
          const { timestamps, values } = decodeChunk(data);
          const inside = start >= fromMs && end <= toMs;
          for (let j = 0; j < timestamps.length; j++) {
            const ts = timestamps[j] as number;
            if (inside || (ts >= fromMs && ts <= toMs)) buf.push(values[j] as number);
          }
        }
        for (const [, v] of head.file.samplesInRange(s.id, fromMs, toMs)) buf.push(v);
        for (const c of head.series.get(s.id) ?? []) {
          for (let j = 0; j < c.ts.length; j++) {
            const ts = c.ts[j] as number;
            if (ts >= fromMs && ts <= toMs) buf.push(c.vs[j] as number);
          }
        }
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
    const found = new Array<RawPoint | undefined>(series.length);
    let remaining = series.map((_, i) => i);
    const days = this.#daysWithFiles(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY).reverse();
    for (const day of days) {
      if (remaining.length === 0) break;
      const head = this.#head(day, false);
      if (!head) continue;
      remaining = remaining.filter((i) => {
        const id = (series[i] as SeriesInfo).id;
        const chunks = head.series.get(id);
        const open = chunks?.[chunks.length - 1];
        const p: RawPoint | undefined =
          open && open.ts.length > 0
            ? [open.ts[open.ts.length - 1] as number, open.vs[open.vs.length - 1] as number]
            : head.file.lastStored(id);
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

  /** Writes what is still pending, flushes every head into chunks (emptying `wal_batches`) and closes. */
  async close(): Promise<void> {
    if (this.#closed) throw new StorageError("closed", "storage engine is already closed");
    if (this.#pending.length > 0) this.#drain();
    this.#closed = true;
    let firstError: unknown;
    for (const head of this.#heads.values()) {
      try {
        head.sealOlderThan(Number.POSITIVE_INFINITY);
        head.flush();
      } catch (err) {
        // The rows stay in wal_batches and are replayed on the next start.
        this.#logger?.error({ err, path: head.file.path }, "could not flush the head at close");
        firstError ??= err;
      }
      head.file.close();
    }
    this.#heads.clear();
    this.#logger?.debug("storage engine closed");
    if (firstError) throw firstError;
  }

  /** Writes every waiting batch: one transaction per day file for all of them, then flushes full chunks. */
  #drain(): void {
    this.#drainScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const days = new Set<number>();
    for (const p of batch) for (const d of p.byDay.keys()) days.add(d);
    for (const day of [...days].sort((a, b) => a - b)) {
      const users = batch.filter((p) => p.byDay.has(day) && p.failed === undefined);
      if (users.length === 0) continue;
      try {
        const head = this.#head(day, true) as DayHead;
        const counts = head.file.transaction(() =>
          users.map((p) => {
            const rows = p.byDay.get(day) as SampleRows;
            const seq = head.file.appendWal(p.agentId, encodeWalBatch(rows));
            const tick = ++this.#tick;
            let accepted = 0;
            for (let i = 0; i < rows.seriesIds.length; i++) {
              const r = head.apply(
                rows.seriesIds[i] as number,
                rows.timestamps[i] as number,
                rows.values[i] as number,
                seq,
                tick,
              );
              if (r === Applied.Accepted) accepted++;
            }
            return accepted;
          }),
        );
        users.forEach((p, i) => {
          p.accepted += counts[i] as number;
        });
      } catch (err) {
        for (const p of users) p.failed = err;
      }
    }
    for (const p of batch) {
      if (p.failed !== undefined) p.reject(p.failed);
      else p.resolve({ accepted: p.accepted, duplicates: p.total - p.accepted });
    }
    this.#flushHeads();
  }

  /** Flushes sealed chunks (and, now and then, chunks idle too long); a failure is logged and retried later. */
  #flushHeads(): void {
    const scan = this.#tick - this.#lastAgeScan >= AGE_SCAN_INTERVAL_BATCHES;
    if (scan) this.#lastAgeScan = this.#tick;
    for (const [day, head] of this.#heads) {
      try {
        if (scan) head.sealOlderThan(this.#tick - this.#maxAge);
        head.flush();
      } catch (err) {
        this.#logger?.error({ err, path: head.file.path }, "could not flush chunks; will retry");
        continue;
      }
      if (head.empty && this.#heads.size > this.#maxOpen) {
        head.file.close();
        this.#heads.delete(day);
      }
    }
  }

  /** The head of `day`, opening (and replaying) its file; undefined when the file is missing and `create` is false. */
  #head(day: number, create: boolean): DayHead | undefined {
    const cached = this.#heads.get(day);
    if (cached) {
      this.#heads.delete(day);
      this.#heads.set(day, cached);
      return cached;
    }
    const path = join(this.#dir, dayNumberFileName(day));
    if (create) mkdirSync(this.#dir, { recursive: true });
    let file: ChunkDayFile;
    try {
      file = ChunkDayFile.open(path, day, create);
    } catch (err) {
      if (!create && err instanceof Error && "code" in err && err.code === "SQLITE_CANTOPEN")
        return undefined;
      throw err;
    }
    const head = new DayHead(file);
    this.#heads.set(day, head);
    this.#replay(head);
    this.#evict();
    return head;
  }

  /** Applies the file's `wal_batches` rows to its head, then flushes what that sealed. */
  #replay(head: DayHead): void {
    const rows = head.file.walRows();
    if (rows.length === 0) return;
    let samples = 0;
    head.file.transaction(() => {
      for (const [seq, r] of rows) {
        const tick = ++this.#tick;
        for (let i = 0; i < r.seriesIds.length; i++) {
          head.apply(r.seriesIds[i] as number, r.timestamps[i] as number, r.values[i] as number, seq, tick);
        }
        samples += r.seriesIds.length;
      }
    });
    head.flush();
    this.#logger?.info(
      { path: head.file.path, batches: rows.length, samples },
      "replayed wal_batches into the head",
    );
  }

  /** Closes least recently used files beyond `maxOpen` whose head holds nothing. */
  #evict(): void {
    if (this.#heads.size <= this.#maxOpen) return;
    for (const [day, head] of this.#heads) {
      if (this.#heads.size <= this.#maxOpen) break;
      if (!head.empty) continue;
      head.file.close();
      this.#heads.delete(day);
    }
  }

  /** Opens every day file once at start so crashed `wal_batches` are replayed, then closes the idle ones. */
  #recover(): void {
    for (const day of this.#daysWithFiles(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)) {
      const head = this.#head(day, false);
      if (head?.empty) {
        head.file.close();
        this.#heads.delete(day);
      }
    }
  }

  #readRaw(query: RangeQuery, selected: SeriesInfo[], days: number[]): SeriesRange<RawPoint>[] {
    const { fromMs, toMs } = query;
    const points = selected.map((): RawPoint[] => []);
    for (const day of days) {
      const head = this.#head(day, false);
      if (!head) continue;
      selected.forEach((s, i) => {
        const out: RawPoint[] = [];
        for (const [, , , , , , data] of head.file.chunksInRange(s.id, fromMs, toMs)) {
          const { timestamps, values } = decodeChunk(data);
          for (let j = 0; j < timestamps.length; j++) {
            const ts = timestamps[j] as number;
            if (ts >= fromMs && ts <= toMs) out.push([ts, values[j] as number]);
          }
        }
        const stragglers = head.file.samplesInRange(s.id, fromMs, toMs);
        let unsorted = stragglers.length > 0;
        for (const p of stragglers) out.push(p);
        for (const c of head.series.get(s.id) ?? []) {
          for (let j = 0; j < c.ts.length; j++) {
            const ts = c.ts[j] as number;
            if (ts >= fromMs && ts <= toMs) out.push([ts, c.vs[j] as number]);
          }
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
      const head = this.#head(day, false);
      if (!head) continue;
      selected.forEach((s, i) => {
        const acc = buckets[i] as Map<number, [number, number, number, number]>;
        const one = (ts: number, v: number) => {
          if (ts >= fromMs && ts <= toMs) add(acc, Math.floor((ts - fromMs) / stepMs), v, v, v, 1);
        };
        for (const [start, end, count, min, max, sum, data] of head.file.chunksInRange(s.id, fromMs, toMs)) {
          const k = Math.floor((start - fromMs) / stepMs);
          if (start >= fromMs && end <= toMs && Math.floor((end - fromMs) / stepMs) === k) {
            // The whole chunk is in one bucket: its aggregate columns answer without decoding.
            add(acc, k, sum, min, max, count);
            continue;
          }
          const { timestamps, values } = decodeChunk(data);
          for (let j = 0; j < timestamps.length; j++) one(timestamps[j] as number, values[j] as number);
        }
        for (const [ts, v] of head.file.samplesInRange(s.id, fromMs, toMs)) one(ts, v);
        for (const c of head.series.get(s.id) ?? [])
          for (let j = 0; j < c.ts.length; j++) one(c.ts[j] as number, c.vs[j] as number);
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

  #daysWithFiles(firstDay: number, lastDay: number): number[] {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch (err) {
      if (err instanceof Error && "code" in err && err.code === "ENOENT") return [];
      throw err;
    }
    const days: number[] = [];
    for (const name of names) {
      const day = parseDayFileName(name);
      if (day !== undefined && day >= firstDay && day <= lastDay) days.push(day);
    }
    return days.sort((a, b) => a - b);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError("closed", "storage engine is closed");
  }
}
