/** Batches of the crash test (crash.test.ts and its fixture test/fixtures/ingest-until-killed.ts). */
import type { SeriesSamples } from "@vigil/common";

/** Series per batch in the crash test. */
export const CRASH_SERIES = 50;
/** 2025-11-25T23:50:00Z: ticks cross midnight, so batches land in two day files. */
export const CRASH_T0 = Date.UTC(2025, 10, 25, 23, 50);
export const CRASH_INTERVAL_MS = 1_000;

/** The value of series `s` at tick `t`: a 2-decimal number that differs per series and tick. */
export function crashValue(s: number, t: number): number {
  return ((s * 7919 + t * 104_729) % 100_000) / 100;
}

/** Batch `t`: one sample of each series at tick `t`. */
export function crashBatch(t: number): SeriesSamples[] {
  return Array.from({ length: CRASH_SERIES }, (_, s) => ({
    metric: "crash_metric",
    labels: { s: String(s) },
    timestamps: [CRASH_T0 + t * CRASH_INTERVAL_MS],
    values: [crashValue(s, t)],
  }));
}
