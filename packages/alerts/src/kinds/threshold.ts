import { compare } from "../compare.js";
import type { ThresholdRule } from "../rule.js";

/**
 * `threshold`: each sample is compared with the threshold. Returns the sample's value while the
 * condition holds, NaN when it does not. Needs no window: `for` does the sustaining.
 */
export function evaluateThreshold(rule: ThresholdRule, value: number): number {
  return compare(value, rule.op, rule.threshold) ? value : Number.NaN;
}
