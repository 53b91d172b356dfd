const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/**
 * Parses a Prometheus-style duration (`500ms`, `10s`, `1h30m`, `7d`) into milliseconds.
 * Throws an Error that quotes the text when it is not one.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!DURATION_RE.test(trimmed)) {
    throw new Error(`"${text}" is not a duration (expected e.g. "500ms", "10s", "5m", "1h30m", "7d")`);
  }
  let total = 0;
  for (const match of trimmed.matchAll(PART_RE)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw new Error(`"${text}" is too long a duration`);
  return ms;
}

/** Formats milliseconds as the shortest duration text `parseDuration` reads back (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  if (rest === 0) return "0s";
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
