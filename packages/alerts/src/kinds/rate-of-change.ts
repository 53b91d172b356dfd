import type { RateOfChangeRule } from "../rule.js";
import type { SlidingWindow, WindowFeatures } from "../window.js";

export const RATE_OF_CHANGE_WINDOW: WindowFeatures = { sums: false, extrema: true };

/**
 * `rate_of_change`: how far the newest sample has moved from the window's extreme.
 * - `up`: the rise from the window's minimum to the newest value;
 * - `down`: the fall from the window's maximum to the newest value;
 * - `any`: whichever of the two is larger (compared in the rule's unit).
 * `percent` divides by the absolute value of that minimum (or maximum); a base of 0 gives no percent
 * change, so the rule does not fire on it. The condition is `change >= threshold`.
 * Returns the signed change (rises positive, falls negative) while it holds, NaN otherwise; fewer than
 * two samples in the window never fire.
 */
export function evaluateRateOfChange(rule: RateOfChangeRule, window: SlidingWindow): number {
  if (window.size < 2) return Number.NaN;
  const last = window.newestValue();
  let up = Number.NaN;
  let down = Number.NaN;
  if (rule.direction !== "down") up = change(rule, last - window.min(), window.min());
  if (rule.direction !== "up") down = change(rule, window.max() - last, window.max());
  const upHolds = up >= rule.threshold;
  const downHolds = down >= rule.threshold;
  if (upHolds && (!downHolds || up >= down)) return up;
  if (downHolds) return -down;
  return Number.NaN;
}

function change(rule: RateOfChangeRule, delta: number, base: number): number {
  if (rule.change === "absolute") return delta;
  if (base === 0) return Number.NaN;
  return (delta / Math.abs(base)) * 100;
}
