/**
 * A time-bounded sliding window of one series' samples for one rule, with O(1) amortised updates:
 * - running sums for the least-squares line (n, Σt, Σv, Σt², Σtv), kept with t in seconds relative to
 *   a per-window origin and v relative to a value origin so the sums stay small and precise; they are
 *   rebuilt from the samples (origins moved to the means) whenever as many samples have left as the
 *   window holds or the window has doubled since, which bounds rounding drift at O(1) amortised cost;
 * - monotonic deques for the minimum and maximum;
 * - ring buffers (typed arrays, capacity a power of two) that grow when full and shrink when a quarter
 *   full, so memory follows the sample rate; at most `MAX_WINDOW_ENTRIES` samples are kept (the oldest
 *   go first beyond that).
 * Samples must arrive in time order; one at or before the newest is ignored (a resend, or out of order).
 */

/** Hard bound on samples per window: a 1 s series over a 1 day window fits. */
export const MAX_WINDOW_ENTRIES = 131_072;
const MIN_CAPACITY = 4;

/** What a window keeps beyond the samples themselves. */
export interface WindowFeatures {
  /** Running sums for `regression()`. */
  readonly sums: boolean;
  /** Monotonic deques for `min()` / `max()`. */
  readonly extrema: boolean;
}

/** A least-squares line as Prometheus' `linearRegression` returns it. */
export interface Regression {
  /** Per second. */
  readonly slope: number;
  /** The line's value at the time the regression was asked for. */
  readonly intercept: number;
}

export class SlidingWindow {
  readonly spanMs: number;
  private readonly features: WindowFeatures;
  private ts: Float64Array;
  private vs: Float64Array;
  private mask: number;
  private head = 0;
  private len = 0;
  /** Sequence number of the sample at `head`; a sample's sequence number never changes. */
  private headSeq = 0;
  // Running sums, t in seconds from `originT` (ms), v from `originV`.
  private originT = 0;
  private originV = 0;
  private sumT = 0;
  private sumV = 0;
  private sumTT = 0;
  private sumTV = 0;
  /** Samples that left since the sums were last rebuilt. */
  private removedSinceRebuild = 0;
  /** Samples in the window when the sums were last rebuilt. */
  private lenAtRebuild = 0;
  private minQ: Float64Array | undefined;
  private maxQ: Float64Array | undefined;
  private minHead = 0;
  private minLen = 0;
  private maxHead = 0;
  private maxLen = 0;

  constructor(spanMs: number, features: WindowFeatures) {
    this.spanMs = spanMs;
    this.features = features;
    this.ts = new Float64Array(MIN_CAPACITY);
    this.vs = new Float64Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    if (features.extrema) {
      this.minQ = new Float64Array(MIN_CAPACITY);
      this.maxQ = new Float64Array(MIN_CAPACITY);
    }
  }

  /** Samples in the window. */
  get size(): number {
    return this.len;
  }

  /** Slots allocated per ring buffer (for memory accounting). */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Bytes of typed-array storage this window holds. */
  get storageBytes(): number {
    return (this.mask + 1) * 8 * (this.features.extrema ? 4 : 2);
  }

  /** Timestamp of the newest sample, or -Infinity when empty. */
  get newestTs(): number {
    return this.len === 0
      ? Number.NEGATIVE_INFINITY
      : (this.ts[(this.head + this.len - 1) & this.mask] as number);
  }

  newestValue(): number {
    return this.vs[(this.head + this.len - 1) & this.mask] as number;
  }

  oldestTs(): number {
    return this.ts[this.head] as number;
  }

  oldestValue(): number {
    return this.vs[this.head] as number;
  }

  /**
   * Adds a sample at `ts` (Unix ms) and drops those at or before `ts - spanMs` (the range is
   * `(ts - span, ts]`, as PromQL's). Returns false, changing nothing, for a sample at or before the
   * newest one or a value that is not finite.
   */
  push(ts: number, value: number): boolean {
    if (this.len > 0 && ts <= this.newestTs) return false;
    if (!Number.isFinite(value)) return false;
    this.evictThrough(ts - this.spanMs);
    if (this.len === this.mask + 1) {
      if (this.len >= MAX_WINDOW_ENTRIES) this.removeOldest();
      else this.resize((this.mask + 1) * 2);
    }
    if (this.len === 0 && this.features.sums) {
      this.originT = ts;
      this.originV = value;
      this.sumT = this.sumV = this.sumTT = this.sumTV = 0;
      this.removedSinceRebuild = 0;
      this.lenAtRebuild = 1;
    }
    const seq = this.headSeq + this.len;
    const i = (this.head + this.len) & this.mask;
    this.ts[i] = ts;
    this.vs[i] = value;
    this.len++;
    if (this.features.sums) {
      const t = (ts - this.originT) / 1000;
      const v = value - this.originV;
      this.sumT += t;
      this.sumV += v;
      this.sumTT += t * t;
      this.sumTV += t * v;
      if (this.len >= 2 * this.lenAtRebuild && this.len >= 2 * MIN_CAPACITY) this.rebuildSums();
    }
    if (this.minQ && this.maxQ) {
      const cap = this.mask;
      // Drop from the back every entry the new value makes irrelevant.
      while (
        this.minLen > 0 &&
        this.valueAtSeq(this.minQ[(this.minHead + this.minLen - 1) & cap] as number) >= value
      )
        this.minLen--;
      this.minQ[(this.minHead + this.minLen) & cap] = seq;
      this.minLen++;
      while (
        this.maxLen > 0 &&
        this.valueAtSeq(this.maxQ[(this.maxHead + this.maxLen - 1) & cap] as number) <= value
      )
        this.maxLen--;
      this.maxQ[(this.maxHead + this.maxLen) & cap] = seq;
      this.maxLen++;
    }
    return true;
  }

  /** Drops every sample at or before `cutoffTs`. */
  evictThrough(cutoffTs: number): void {
    let removed = false;
    while (this.len > 0 && (this.ts[this.head] as number) <= cutoffTs) {
      this.removeOldest();
      removed = true;
    }
    if (removed && this.len * 4 <= this.mask + 1 && this.mask + 1 > MIN_CAPACITY) {
      let capacity = MIN_CAPACITY;
      while (capacity < this.len * 2) capacity *= 2;
      this.resize(capacity);
    }
  }

  /** Smallest value in the window (needs `extrema`); NaN when empty. */
  min(): number {
    if (!this.minQ || this.minLen === 0) return Number.NaN;
    return this.valueAtSeq(this.minQ[this.minHead] as number);
  }

  /** Largest value in the window (needs `extrema`); NaN when empty. */
  max(): number {
    if (!this.maxQ || this.maxLen === 0) return Number.NaN;
    return this.valueAtSeq(this.maxQ[this.maxHead] as number);
  }

  /**
   * The least-squares line through the window's samples, as Prometheus' `linearRegression(samples,
   * atTs)`: time in seconds, intercept at `atTs`. Fewer than two samples give undefined; equal values
   * give slope 0 exactly (Prometheus' constant-series case; needs `extrema` to know, else computed).
   */
  regression(atTs: number): Regression | undefined {
    if (this.len < 2) return undefined;
    if (this.minQ && this.min() === this.max()) return { slope: 0, intercept: this.oldestValue() };
    const n = this.len;
    const covTV = this.sumTV - (this.sumT * this.sumV) / n;
    const varT = this.sumTT - (this.sumT * this.sumT) / n;
    const slope = covTV / varT;
    // Mean time relative to atTs, in seconds.
    const meanT = this.sumT / n - (atTs - this.originT) / 1000;
    const intercept = this.originV + this.sumV / n - slope * meanT;
    return { slope, intercept };
  }

  /** `predict_linear(window, horizonSeconds)` evaluated at `atTs`. */
  predictLinear(atTs: number, horizonSeconds: number): number | undefined {
    const r = this.regression(atTs);
    return r === undefined ? undefined : r.slope * horizonSeconds + r.intercept;
  }

  /** Calls `fn` for each sample, oldest first. */
  forEach(fn: (ts: number, value: number) => void): void {
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & this.mask;
      fn(this.ts[i] as number, this.vs[i] as number);
    }
  }

  private valueAtSeq(seq: number): number {
    return this.vs[(this.head + (seq - this.headSeq)) & this.mask] as number;
  }

  private removeOldest(): void {
    const seq = this.headSeq;
    if (this.features.sums) {
      const t = ((this.ts[this.head] as number) - this.originT) / 1000;
      const v = (this.vs[this.head] as number) - this.originV;
      this.sumT -= t;
      this.sumV -= v;
      this.sumTT -= t * t;
      this.sumTV -= t * v;
    }
    if (this.minQ && this.minLen > 0 && this.minQ[this.minHead] === seq) {
      this.minHead = (this.minHead + 1) & this.mask;
      this.minLen--;
    }
    if (this.maxQ && this.maxLen > 0 && this.maxQ[this.maxHead] === seq) {
      this.maxHead = (this.maxHead + 1) & this.mask;
      this.maxLen--;
    }
    this.head = (this.head + 1) & this.mask;
    this.headSeq++;
    this.len--;
    if (this.features.sums && ++this.removedSinceRebuild >= Math.max(this.len, MIN_CAPACITY))
      this.rebuildSums();
  }

  /**
   * Recomputes the sums from the samples with the origins moved to their means, so the sums are
   * centred (well conditioned) until enough samples have come and gone to call for the next rebuild.
   */
  private rebuildSums(): void {
    this.removedSinceRebuild = 0;
    this.lenAtRebuild = this.len;
    this.sumT = this.sumV = this.sumTT = this.sumTV = 0;
    if (this.len === 0) return;
    let meanT = 0;
    let meanV = 0;
    const first = this.ts[this.head] as number;
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & this.mask;
      meanT += (this.ts[i] as number) - first;
      meanV += this.vs[i] as number;
    }
    this.originT = first + meanT / this.len;
    this.originV = meanV / this.len;
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & this.mask;
      const t = ((this.ts[i] as number) - this.originT) / 1000;
      const v = (this.vs[i] as number) - this.originV;
      this.sumT += t;
      this.sumV += v;
      this.sumTT += t * t;
      this.sumTV += t * v;
    }
  }

  private resize(capacity: number): void {
    const ts = new Float64Array(capacity);
    const vs = new Float64Array(capacity);
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & this.mask;
      ts[k] = this.ts[i] as number;
      vs[k] = this.vs[i] as number;
    }
    if (this.minQ && this.maxQ) {
      const minQ = new Float64Array(capacity);
      const maxQ = new Float64Array(capacity);
      for (let k = 0; k < this.minLen; k++) minQ[k] = this.minQ[(this.minHead + k) & this.mask] as number;
      for (let k = 0; k < this.maxLen; k++) maxQ[k] = this.maxQ[(this.maxHead + k) & this.mask] as number;
      this.minQ = minQ;
      this.maxQ = maxQ;
      this.minHead = 0;
      this.maxHead = 0;
    }
    this.ts = ts;
    this.vs = vs;
    this.head = 0;
    this.mask = capacity - 1;
  }
}
