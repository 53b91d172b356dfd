import { compare } from "../compare.js";
import type { TrendRule } from "../rule.js";
import type { SlidingWindow, WindowFeatures } from "../window.js";

export const TREND_WINDOW: WindowFeatures = { sums: true, extrema: true };

/**
 * `trend`: the least-squares line through the window (Prometheus `predict_linear`, the same numbers)
 * evaluated at the newest sample's time. The condition holds when the line is at or past the threshold
 * anywhere between now and now + `horizon`, i.e. the predicted time to reach it is within the horizon
 * (0 when it is already reached). For a line that is when either end satisfies `value op threshold`.
 * Returns `predict_linear(window, horizon)` while the condition holds, NaN otherwise (and with fewer
 * than two samples).
 */
export function evaluateTrend(rule: TrendRule, window: SlidingWindow): number {
  const ts = window.newestTs;
  const r = window.regression(ts);
  if (r === undefined) return Number.NaN;
  const predicted = r.slope * (rule.horizonMs / 1000) + r.intercept;
  if (compare(predicted, rule.op, rule.threshold) || compare(r.intercept, rule.op, rule.threshold)) {
    return predicted;
  }
  return Number.NaN;
}

/**
 * Seconds until the line reaches `threshold` from `intercept` at `slope` per second: 0 when it is
 * already there for `op`, Infinity when it moves away or is flat.
 */
export function secondsToThreshold(
  slope: number,
  intercept: number,
  op: TrendRule["op"],
  threshold: number,
): number {
  if (compare(intercept, op, threshold)) return 0;
  const rising = op === ">" || op === ">=";
  if (rising ? slope <= 0 : slope >= 0) return Number.POSITIVE_INFINITY;
  return (threshold - intercept) / slope;
}
