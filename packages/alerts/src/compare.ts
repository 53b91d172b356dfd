import type { ComparisonOp } from "./rule.js";

/** `value op threshold`; NaN compares false with every operator except `!=`, as in PromQL. */
export function compare(value: number, op: ComparisonOp, threshold: number): boolean {
  switch (op) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
    case "==":
      return value === threshold;
    case "!=":
      return value !== threshold;
  }
}
