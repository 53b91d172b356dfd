import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CHUNK_DAY_FILE_SQL, ChunkDayFile } from "./chunk-day-file.js";
import { DAY_FILE_SCHEMA_VERSION, migrateDayFile } from "./day-file-migrate.js";
import { openReadonlyDb, openWritableDb, type ReadableDb, userVersion } from "./db.js";
import { isStorageError } from "./storage-error.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-day-migrate-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const schemaOf = (db: ReadableDb) =>
  db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all();

function planOf(db: ReadableDb, sql: string): string {
  const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((r) => r.detail)
    .join("; ");
}

/** Each hot day-file statement and the key it must search (never a full scan). */
const EXPECTED_PLANS: [keyof typeof CHUNK_DAY_FILE_SQL, RegExp][] = [
  ["chunksInRange", /SEARCH chunks USING PRIMARY KEY \(series_id=\? AND start_ts>\? AND start_ts<\?\)/],
  ["chunkCovering", /SEARCH chunks USING PRIMARY KEY \(series_id=\? AND start_ts>\? AND start_ts<\?\)/],
  ["lastChunkEnd", /SEARCH chunks USING PRIMARY KEY \(series_id=\?\)/],
  ["samplesInRange", /SEARCH samples USING PRIMARY KEY \(series_id=\? AND ts>\? AND ts<\?\)/],
  ["deleteWalBelow", /SEARCH wal_batches USING INTEGER PRIMARY KEY \(rowid<\?\)/],
];

describe("day file migrations", () => {
  const DAY = 20_417; // 2025-11-25
  const fresh = () => {
    const path = join(dir, "fresh.db");
    ChunkDayFile.open(path, DAY, true).close();
    const db = openReadonlyDb(path);
    const schema = schemaOf(db);
    db.close();
    return schema;
  };

  it.each(Array.from({ length: DAY_FILE_SCHEMA_VERSION }, (_, v) => v))(
    "opens a day file at version %i: migrated to the latest, same schema as a fresh one, its samples kept",
    (from) => {
      const path = join(dir, `from-${from}.db`);
      const old = openWritableDb(path, { create: true });
      migrateDayFile(old, path, { toVersion: from });
      expect(userVersion(old)).toBe(from);
      if (from >= 1) old.prepare("INSERT INTO samples (series_id, ts, value) VALUES (7, 1000, 2.5)").run();
      old.close();

      ChunkDayFile.open(path, DAY, false).close();
      const db = openReadonlyDb(path);
      expect(userVersion(db)).toBe(DAY_FILE_SCHEMA_VERSION);
      expect(schemaOf(db)).toEqual(fresh());
      // A version-1 file's rows stay in `samples`, where queries read them like stragglers.
      expect(db.prepare("SELECT series_id, ts, value FROM samples").raw().all()).toEqual(
        from >= 1 ? [[7, 1000, 2.5]] : [],
      );
      for (const [name, plan] of EXPECTED_PLANS) {
        const actual = planOf(db, CHUNK_DAY_FILE_SQL[name]);
        expect(actual, name).toMatch(plan);
        expect(actual, name).not.toMatch(/\bSCAN\b/);
      }
      db.close();
    },
  );

  it("refuses a day file from a newer Vigil, naming the file", () => {
    const path = join(dir, "newer.db");
    ChunkDayFile.open(path, DAY, true).close();
    const db = openWritableDb(path, { create: false });
    db.pragma(`user_version = ${DAY_FILE_SCHEMA_VERSION + 1}`);
    db.close();
    let caught: unknown;
    try {
      ChunkDayFile.open(path, DAY, false);
    } catch (err) {
      caught = err;
    }
    expect(isStorageError(caught) && caught.code).toBe("newer_schema");
    expect(String(caught)).toContain(path);
  });
});
