import { describe, expect, it } from "vitest";
import {
  DAY_MS,
  dayFileName,
  dayFilePath,
  dayNumber,
  MAX_TIMESTAMP_MS,
  parseDayFileName,
} from "./data-dir-layout.js";

describe("day file names", () => {
  it.each([
    [Date.UTC(2025, 10, 25, 0, 0, 0, 0), "2025-11-25.db"],
    [Date.UTC(2025, 10, 25, 23, 59, 59, 999), "2025-11-25.db"],
    [Date.UTC(2025, 10, 26), "2025-11-26.db"],
    [0, "1970-01-01.db"],
    [MAX_TIMESTAMP_MS, "9999-12-31.db"],
  ])("names the UTC day of %i as %s", (ts, name) => {
    expect(dayFileName(ts)).toBe(name);
    expect(parseDayFileName(name)).toBe(dayNumber(ts));
  });

  it("puts the file under data_dir/samples", () => {
    expect(dayFilePath("/var/lib/vigil", Date.UTC(2024, 1, 29, 12))).toBe(
      "/var/lib/vigil/samples/2024-02-29.db",
    );
  });

  it.each([
    "2025-11-25.db-wal",
    "2025-11-25.db-shm",
    "2025-02-30.db",
    "2025-13-01.db",
    "0050-01-01.db",
    "notes.txt",
    "2025-1-01.db",
  ])("does not take %s for a day file", (name) => {
    expect(parseDayFileName(name)).toBeUndefined();
  });

  it("numbers days from the epoch", () => {
    expect(dayNumber(DAY_MS - 1)).toBe(0);
    expect(dayNumber(DAY_MS)).toBe(1);
  });
});
