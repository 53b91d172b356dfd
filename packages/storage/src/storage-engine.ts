import type { LabelMatcher, Labels, SeriesSamples } from "@vigil/common";

/** What one `appendBatch` call did. `accepted + duplicates` equals the samples given. */
export interface AppendResult {
  /** Samples newly written. */
  readonly accepted: number;
  /** Samples skipped because their series already had a sample at that timestamp (a resent batch). */
  readonly duplicates: number;
}

export interface RangeQuery {
  readonly agentId: string;
  readonly metric: string;
  /** All must hold; a missing label reads as "". */
  readonly matchers: readonly LabelMatcher[];
  /** Unix ms, inclusive. */
  readonly fromMs: number;
  /** Unix ms, inclusive. */
  readonly toMs: number;
  /** When set, points are aggregated into buckets `[fromMs + k*stepMs, fromMs + (k+1)*stepMs)`. */
  readonly stepMs?: number | undefined;
}

/** A raw point: [Unix ms, value]. */
export type RawPoint = readonly [ts: number, value: number];
/** A step bucket: [bucket start Unix ms, avg, min, max, count]. Buckets without samples are left out. */
export type BucketPoint = readonly [ts: number, avg: number, min: number, max: number, count: number];

export interface SeriesRange<P> {
  readonly labels: Labels;
  /** Ascending by timestamp. */
  readonly points: readonly P[];
}

/** `queryStats`: every sample of the selected series in [fromMs, toMs] (inclusive), no step. */
export interface StatsQuery {
  readonly agentId: string;
  readonly metric: string;
  /** All must hold; a missing label reads as "". */
  readonly matchers: readonly LabelMatcher[];
  /** Unix ms, inclusive. */
  readonly fromMs: number;
  /** Unix ms, inclusive. */
  readonly toMs: number;
}

/** One series' statistics over a range. */
export interface SeriesStats {
  readonly labels: Labels;
  readonly min: number;
  readonly max: number;
  /** Sum ÷ count. */
  readonly avg: number;
  /**
   * The 95th percentile by nearest rank, no interpolation: the smallest sample value such that at least
   * 95% of the samples are ≤ it, i.e. the value at 1-based rank ⌈0.95 × count⌉ in ascending order.
   */
  readonly p95: number;
  /** Samples in the range (always ≥ 1: series without samples are left out). */
  readonly count: number;
}

/** One series' newest sample. */
export interface LatestSample {
  readonly metric: string;
  readonly labels: Labels;
  /** Unix ms. */
  readonly ts: number;
  readonly value: number;
}

export interface SeriesInfo {
  readonly id: number;
  readonly agentId: string;
  readonly metric: string;
  readonly labels: Labels;
}

/**
 * Where samples live. The SQLite engine is the embedded default; another backend implements the same.
 * Every method may be called concurrently; writes are idempotent by (series, timestamp).
 */
export interface StorageEngine {
  /** Writes the samples; resolves only after they are committed (the ingest service acks after this). */
  appendBatch(agentId: string, series: readonly SeriesSamples[]): Promise<AppendResult>;
  /** Raw points, ordered by labels then time. */
  queryRange(query: RangeQuery & { stepMs?: undefined }): Promise<SeriesRange<RawPoint>[]>;
  /** Step buckets (min/max/avg/count per bucket). */
  queryRange(query: RangeQuery & { stepMs: number }): Promise<SeriesRange<BucketPoint>[]>;
  queryRange(query: RangeQuery): Promise<SeriesRange<RawPoint>[] | SeriesRange<BucketPoint>[]>;
  /**
   * Per selected series with samples in the range: min, max, avg, p95 (nearest rank) and count, ordered
   * by labels. Reads every value in the range (p95 needs them).
   */
  queryStats(query: StatsQuery): Promise<SeriesStats[]>;
  /**
   * Per series of the agent (of `metric` when given), its newest sample, ordered by metric then labels.
   * Series that have no sample in any day file kept are left out.
   */
  latest(query: { agentId: string; metric?: string | undefined }): Promise<LatestSample[]>;
  /** Known series, filtered by agent and/or metric. */
  listSeries(filter: { agentId?: string | undefined; metric?: string | undefined }): Promise<SeriesInfo[]>;
  /** Flushes and closes every file. Further calls reject. */
  close(): Promise<void>;
}
