import { readdirSync } from "node:fs";
import { join } from "node:path";

/** The catalog's file name inside the data dir. */
export const CATALOG_FILE_NAME = "vigil.db";
/** The folder of daily sample files inside the data dir. */
export const SAMPLES_DIR_NAME = "samples";

/** Milliseconds in a UTC day; partitions are UTC days, so no time zone or DST enters. */
export const DAY_MS = 86_400_000;

/** Latest timestamp we store: 9999-12-31T23:59:59.999Z, so every day name has four year digits. */
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;

const DAY_FILE_RE = /^(\d{4})-(\d{2})-(\d{2})\.db$/;

/** `data_dir/vigil.db`. */
export function catalogPath(dataDir: string): string {
  return join(dataDir, CATALOG_FILE_NAME);
}

/** `data_dir/samples`. */
export function samplesDir(dataDir: string): string {
  return join(dataDir, SAMPLES_DIR_NAME);
}

/** The UTC day a timestamp falls in, as whole days since 1970-01-01 (day 0). */
export function dayNumber(tsMs: number): number {
  return Math.floor(tsMs / DAY_MS);
}

/** The file name of a UTC day, `YYYY-MM-DD.db`. */
export function dayNumberFileName(day: number): string {
  return `${new Date(day * DAY_MS).toISOString().slice(0, 10)}.db`;
}

/** The file name of the UTC day `tsMs` falls in: `dayFileName(Date.UTC(2025, 10, 25, 23)) === "2025-11-25.db"`. */
export function dayFileName(tsMs: number): string {
  return dayNumberFileName(dayNumber(tsMs));
}

/** `data_dir/samples/YYYY-MM-DD.db` for the UTC day `tsMs` falls in. */
export function dayFilePath(dataDir: string, tsMs: number): string {
  return join(samplesDir(dataDir), dayFileName(tsMs));
}

/**
 * The day number a sample file name stands for, or `undefined` when the name is not a day file
 * (`-wal`/`-shm` companions, stray files, impossible dates such as `2025-02-30.db`).
 */
export function parseDayFileName(name: string): number | undefined {
  const m = DAY_FILE_RE.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!Number.isFinite(ms) || dayNumberFileName(ms / DAY_MS) !== name) return undefined;
  return ms / DAY_MS;
}

/**
 * The day numbers in `firstDay..lastDay` (inclusive; ±Infinity for no bound) that have a day file in
 * `dir` (a data dir's `samples/`), ascending. A missing `dir` has none.
 */
export function dayFilesBetween(dir: string, firstDay: number, lastDay: number): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "ENOENT") return [];
    throw err;
  }
  const days: number[] = [];
  for (const name of names) {
    const day = parseDayFileName(name);
    if (day !== undefined && day >= firstDay && day <= lastDay) days.push(day);
  }
  return days.sort((a, b) => a - b);
}
