import type { StatsQuery } from "./storage-engine.js";
import { StorageError } from "./storage-error.js";

/** min, max, avg, p95 and count of a set of values (order does not matter). */
export interface ValueSummary {
  readonly min: number;
  readonly max: number;
  readonly avg: number;
  readonly p95: number;
  readonly count: number;
}

/**
 * Summarises the first `count` values of `values` (sorting them in place). p95 is the nearest-rank
 * percentile: the value at 1-based rank ⌈0.95 × count⌉ in ascending order, so always a value that was
 * stored, never an interpolation (e.g. of 1..20 it is 19; of 1..10 it is 10). Undefined for no values.
 */
export function summarizeValues(values: Float64Array, count = values.length): ValueSummary | undefined {
  if (count === 0) return undefined;
  const sorted = (count === values.length ? values : values.subarray(0, count)).sort();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i] as number;
  return {
    min: sorted[0] as number,
    max: sorted[count - 1] as number,
    avg: sum / count,
    p95: sorted[Math.ceil(0.95 * count) - 1] as number,
    count,
  };
}

/** A growable Float64Array of values, so a long range does not box every sample. */
export class ValueBuffer {
  values = new Float64Array(256);
  length = 0;

  push(v: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = v;
  }
}

export function validateStatsQuery(query: StatsQuery): void {
  const { fromMs, toMs } = query;
  if (typeof query.agentId !== "string" || query.agentId === "")
    throw new StorageError("invalid_query", "query has an empty agent id");
  if (typeof query.metric !== "string" || query.metric === "")
    throw new StorageError("invalid_query", "query has an empty metric name");
  if (!Number.isSafeInteger(fromMs))
    throw new StorageError("invalid_query", `fromMs ${fromMs} is not whole Unix milliseconds`);
  if (!Number.isSafeInteger(toMs))
    throw new StorageError("invalid_query", `toMs ${toMs} is not whole Unix milliseconds`);
  if (fromMs > toMs) throw new StorageError("invalid_query", `fromMs ${fromMs} is after toMs ${toMs}`);
}
