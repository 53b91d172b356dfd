import { parseDuration } from "./duration.js";

// Hours 00–23, minutes 00–59, seconds 00–60 (leap second) and offsets up to ±23:59: Date.parse would
// also take "T24:00:00Z" (the next midnight) and "T12:60:00Z", which RFC 3339 does not allow.
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/i;

/**
 * Reads a point in time as the API accepts it: `now`, a relative `-1h` (before `nowMs`),
 * Unix seconds (`1764040000`, fractions allowed) or RFC 3339 (`2026-11-25T10:00:00Z`).
 * Returns Unix milliseconds; throws an Error quoting the text otherwise.
 */
export function parseTimeSpec(text: string, nowMs: number): number {
  const t = text.trim();
  if (t === "now") return nowMs;
  if (t.startsWith("-")) {
    // "- 1h" is a typo more often than a time: the duration must follow the sign directly.
    if (/^-\s/.test(t)) {
      throw new Error(`"${text}" is not a time: write the duration right after "-", e.g. "-1h"`);
    }
    try {
      return nowMs - parseDuration(t.slice(1));
    } catch {
      throw new Error(`"${text}" is not a time: a relative time is "-" and a duration, e.g. "-1h"`);
    }
  }
  if (/^\d+(?:\.\d+)?$/.test(t)) {
    const ms = Math.round(Number(t) * 1000);
    if (Number.isSafeInteger(ms)) return ms;
  }
  const m = RFC3339_RE.exec(t);
  // Date.parse rolls a day past the month's end over (Feb 30 → Mar 2); RFC 3339 does not.
  if (m && Number(m[3]) <= daysInMonth(Number(m[1]), Number(m[2]))) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new Error(`"${text}" is not a time (expected "now", "-1h", Unix seconds or RFC 3339)`);
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}
