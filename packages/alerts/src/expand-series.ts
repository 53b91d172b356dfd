/** Marks a stale sample in an expanded series: the series ends there (Prometheus' staleness marker). */
export const STALE = Symbol("stale");

/** One step of an expanded series: a value, `undefined` for a missing sample (`_`), or `STALE`. */
export type ExpandedValue = number | undefined | typeof STALE;

const NUM = String.raw`(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|NaN`;
const VALUE_RE = new RegExp(`^([+-]?(?:${NUM}))(?:([+-])(${NUM})x([0-9]+)|x([0-9]+))?$`);
const BLANK_RE = /^_(?:x([0-9]+))?$/;
/** Longest expansion accepted, so a typo cannot ask for billions of samples. */
const MAX_VALUES = 1_000_000;

/**
 * Expands Prometheus' test series notation (as `promtool test rules` reads `values`):
 * - `a` one value; `Inf`, `-Inf`, `NaN` allowed;
 * - `a+bxn` / `a-bxn`: n+1 values a, a±b, …, a±n·b; `axn`: a repeated n+1 times;
 * - `_` one missing sample; `_xn` n missing samples;
 * - `stale` a staleness marker.
 * Throws an Error quoting the token that is none of these.
 */
export function expandSeriesValues(text: string): ExpandedValue[] {
  const out: ExpandedValue[] = [];
  for (const token of text.trim().split(/\s+/)) {
    if (token === "") continue;
    if (token === "stale") {
      out.push(STALE);
      continue;
    }
    const blank = BLANK_RE.exec(token);
    if (blank) {
      const n = blank[1] === undefined ? 1 : Number(blank[1]);
      guard(out.length + n, token);
      for (let i = 0; i < n; i++) out.push(undefined);
      continue;
    }
    const m = VALUE_RE.exec(token);
    if (!m) {
      throw new Error(
        `"${token}" is not a series value (expected e.g. "1", "0+10x100", "5-1x4", "_", "_x3", "stale")`,
      );
    }
    const start = parseNumber(m[1] as string);
    if (m[2] !== undefined) {
      const step = parseNumber(m[3] as string) * (m[2] === "-" ? -1 : 1);
      const n = Number(m[4]);
      guard(out.length + n + 1, token);
      for (let i = 0; i <= n; i++) out.push(start + i * step);
    } else if (m[5] !== undefined) {
      const n = Number(m[5]);
      guard(out.length + n + 1, token);
      for (let i = 0; i <= n; i++) out.push(start);
    } else out.push(start);
  }
  return out;
}

function parseNumber(text: string): number {
  const unsigned = text.replace(/^[+-]/, "");
  const negative = text.startsWith("-");
  const n =
    unsigned === "Inf" ? Number.POSITIVE_INFINITY : unsigned === "NaN" ? Number.NaN : Number(unsigned);
  return negative ? -n : n;
}

function guard(count: number, token: string): void {
  if (count > MAX_VALUES) throw new Error(`"${token}" expands past ${MAX_VALUES} values`);
}
