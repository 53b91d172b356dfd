import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CATALOG_SQL, Catalog } from "./catalog.js";
import { catalogPath } from "./data-dir-layout.js";
import { DAY_FILE_SQL, DayFile } from "./day-file.js";
import { openReadonlyDb, openWritableDb, type ReadableDb, userVersion } from "./db.js";
import { CATALOG_SCHEMA_VERSION, migrate } from "./migrate.js";
import { isStorageError } from "./storage-error.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-migrate-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function schemaOf(db: ReadableDb): unknown[] {
  return db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all();
}

function planOf(db: ReadableDb, sql: string): string {
  // better-sqlite3 wants every parameter bound; the values do not change the plan.
  const named = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], 0]));
  const positional = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0);
  const stmt = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (positional.length > 0 ? stmt.all(...positional) : stmt.all(named)) as { detail: string }[];
  return rows.map((r) => r.detail).join("; ");
}

/** Each hot catalog lookup and the index it must search (never a full scan). */
const EXPECTED_PLANS: [keyof typeof CATALOG_SQL, RegExp][] = [
  ["agentForKeyHash", /SEARCH agent_keys USING PRIMARY KEY \(hash=\?\)/],
  ["apiTokenForHash", /SEARCH api_tokens USING INDEX api_tokens_hash \(hash=\?\)/],
  [
    "seriesIdByKey",
    /SEARCH series USING COVERING INDEX series_key \(agent_id=\? AND metric=\? AND labels=\?\)/,
  ],
  ["seriesByAgentMetric", /SEARCH series USING (COVERING )?INDEX series_key \(agent_id=\? AND metric=\?\)/],
  ["seriesByAgent", /SEARCH series USING (COVERING )?INDEX series_key \(agent_id=\?\)/],
  ["seriesByMetric", /SEARCH series USING INDEX series_metric \(metric=\?\)/],
  ["enrollTokenByHash", /SEARCH enroll_tokens USING PRIMARY KEY \(hash=\?\)/],
];

describe("catalog migrations", () => {
  const freshSchema = () => {
    const fresh = join(dir, "fresh");
    Catalog.open(fresh).close();
    const db = openReadonlyDb(catalogPath(fresh));
    const schema = schemaOf(db);
    db.close();
    return schema;
  };

  const pastVersions = Array.from({ length: CATALOG_SCHEMA_VERSION }, (_, v) => v);
  it.each(pastVersions)(
    "migrates a catalog at version %i to the latest, same schema as a fresh one",
    (from) => {
      const dataDir = join(dir, `from-${from}`);
      Catalog.open(dataDir).close(); // creates the folder; then rebuild the file at the old version
      rmSync(catalogPath(dataDir));
      const old = openWritableDb(catalogPath(dataDir), { create: true, foreignKeys: true });
      migrate(old, { toVersion: from });
      expect(userVersion(old)).toBe(from);
      old.close();

      Catalog.open(dataDir).close();
      const db = openReadonlyDb(catalogPath(dataDir));
      expect(userVersion(db)).toBe(CATALOG_SCHEMA_VERSION);
      expect(schemaOf(db)).toEqual(freshSchema());
      for (const [name, plan] of EXPECTED_PLANS) {
        const actual = planOf(db, CATALOG_SQL[name]);
        expect(actual, name).toMatch(plan);
        expect(actual, name).not.toMatch(/\bSCAN\b/);
      }
      db.close();
    },
  );

  it("applies nothing to a catalog that is already current", () => {
    const db = openWritableDb(join(dir, "c.db"), { create: true });
    expect(migrate(db)).toEqual(Array.from({ length: CATALOG_SCHEMA_VERSION }, (_, i) => i + 1));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it("refuses a catalog from a newer Vigil", () => {
    const dataDir = join(dir, "newer");
    Catalog.open(dataDir).close();
    const db = openWritableDb(catalogPath(dataDir), { create: false });
    db.pragma("user_version = 99");
    db.close();
    let caught: unknown;
    try {
      Catalog.open(dataDir);
    } catch (err) {
      caught = err;
    }
    expect(isStorageError(caught) && caught.code).toBe("newer_schema");
    expect(String(caught)).toContain(
      `schema version 99 but this Vigil knows only up to ${CATALOG_SCHEMA_VERSION}`,
    );
  });

  it("rolls a failing migration back whole, leaving the previous version", () => {
    const db = openWritableDb(join(dir, "f.db"), { create: true });
    const migrations = [
      { version: 1, slug: "ok", up: (d: typeof db) => d.exec("CREATE TABLE a (x)") },
      {
        version: 2,
        slug: "broken",
        up: (d: typeof db) => {
          d.exec("CREATE TABLE b (x)");
          throw new Error("boom");
        },
      },
    ];
    expect(() => migrate(db, { migrations })).toThrow("boom");
    expect(userVersion(db)).toBe(1);
    expect(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(),
    ).toEqual(["a"]);
    db.close();
  });

  it("refuses a migration list with a gap", () => {
    const db = openWritableDb(join(dir, "g.db"), { create: true });
    expect(() => migrate(db, { migrations: [{ version: 2, slug: "x", up: () => {} }] })).toThrow(
      /out of order/,
    );
    db.close();
  });
});

describe("day file query plans", () => {
  it("reads raw points and buckets by a primary-key range search", () => {
    const path = join(dir, "2025-11-25.db");
    DayFile.open(path, 0, true).close();
    const db = openReadonlyDb(path);
    expect(planOf(db, DAY_FILE_SQL.raw)).toContain(
      "SEARCH samples USING PRIMARY KEY (series_id=? AND ts>? AND ts<?)",
    );
    expect(planOf(db, DAY_FILE_SQL.buckets)).toContain(
      "SEARCH samples USING PRIMARY KEY (series_id=? AND ts>? AND ts<?)",
    );
    db.close();
  });
});
