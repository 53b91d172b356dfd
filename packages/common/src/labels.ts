import type { Labels } from "./sample.js";

/**
 * The stable text form of a label set: JSON of the entries sorted by name.
 * Storage keys series by it, so `{b:"2",a:"1"}` and `{a:"1",b:"2"}` are one series.
 */
export function canonicalLabels(labels: Labels): string {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) sorted[key] = labels[key] as string;
  return JSON.stringify(sorted);
}

export type LabelMatchOp = "=" | "!=";

/** Selects series by one label: `name = value` or `name != value` (a missing label reads as ""). */
export interface LabelMatcher {
  readonly name: string;
  readonly op: LabelMatchOp;
  readonly value: string;
}

/** True when every matcher holds for `labels`. */
export function matchesLabels(labels: Labels, matchers: readonly LabelMatcher[]): boolean {
  for (const m of matchers) {
    const actual = labels[m.name] ?? "";
    if (m.op === "=" ? actual !== m.value : actual === m.value) return false;
  }
  return true;
}

/**
 * Parses the `labels=` query form `k=v,k2!=v2` into matchers.
 * Throws an Error naming the offending part, e.g. `label matcher "cpu" has no "=" or "!="`.
 */
export function parseLabelMatchers(text: string): LabelMatcher[] {
  if (text.trim() === "") return [];
  return text.split(",").map((part) => {
    const neq = part.indexOf("!=");
    const eq = part.indexOf("=");
    if (eq < 0) throw new Error(`label matcher "${part}" has no "=" or "!="`);
    const isNeq = neq >= 0 && neq < eq;
    const name = part.slice(0, isNeq ? neq : eq).trim();
    const value = part.slice(isNeq ? neq + 2 : eq + 1).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name))
      throw new Error(`label matcher "${part}" has an invalid label name "${name}"`);
    return { name, op: isNeq ? "!=" : "=", value };
  });
}
