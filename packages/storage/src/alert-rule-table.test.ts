import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ALERT_RULE_SQL } from "./alert-rule-table.js";
import { Catalog } from "./catalog.js";
import { catalogPath } from "./data-dir-layout.js";
import { openReadonlyDb } from "./db.js";
import { isStorageError } from "./storage-error.js";

let dir: string;
let catalog: Catalog;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-rules-"));
  catalog = Catalog.open(dir);
});
afterEach(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

const SPEC = { name: "Hot", kind: "threshold", metric: "temp", op: ">", threshold: 80, for: "5m" };

describe("alert_rules", () => {
  it("stores, lists by name, updates and deletes rules; ids are never reused", () => {
    const hot = catalog.alertRules.insert("Hot", SPEC, 1_000, "ops");
    const cold = catalog.alertRules.insert("Cold", { ...SPEC, name: "Cold", op: "<" }, 2_000, "ops");
    expect(hot).toEqual({
      id: 1,
      name: "Hot",
      spec: SPEC,
      createdAt: 1_000,
      updatedAt: 1_000,
      updatedBy: "ops",
    });
    expect(catalog.alertRules.list().map((r) => r.name)).toEqual(["Cold", "Hot"]);

    const renamed = catalog.alertRules.update(hot.id, "Hotter", { ...SPEC, name: "Hotter" }, 3_000, "bot");
    expect(renamed).toEqual({
      id: 1,
      name: "Hotter",
      spec: { ...SPEC, name: "Hotter" },
      createdAt: 1_000,
      updatedAt: 3_000,
      updatedBy: "bot",
    });
    expect(catalog.alertRules.update(99, "X", SPEC, 3_000, "bot")).toBeUndefined();

    expect(catalog.alertRules.delete(cold.id)).toBe(true);
    expect(catalog.alertRules.delete(cold.id)).toBe(false);
    expect(catalog.alertRules.insert("Cold", SPEC, 4_000, "ops").id).toBe(3);
    // And across a reopen.
    catalog.close();
    catalog = Catalog.open(dir);
    expect(catalog.alertRules.list().map((r) => [r.id, r.name])).toEqual([
      [3, "Cold"],
      [1, "Hotter"],
    ]);
  });

  it("refuses a second rule of the same name with a conflict error naming it", () => {
    catalog.alertRules.insert("Hot", SPEC, 1_000, "ops");
    const other = catalog.alertRules.insert("Other", SPEC, 1_000, "ops");
    for (const write of [
      () => catalog.alertRules.insert("Hot", SPEC, 2_000, "ops"),
      () => catalog.alertRules.update(other.id, "Hot", SPEC, 2_000, "ops"),
    ]) {
      let caught: unknown;
      try {
        write();
      } catch (err) {
        caught = err;
      }
      expect(isStorageError(caught) && caught.code).toBe("conflict");
      expect(String(caught)).toContain('an API rule named "Hot" already exists');
    }
    expect(catalog.alertRules.list()).toHaveLength(2);
  });

  it("looks rules up by primary key", () => {
    const db = openReadonlyDb(catalogPath(dir));
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${ALERT_RULE_SQL.byId}`).all(1) as { detail: string }[])
      .map((r) => r.detail)
      .join("; ");
    expect(plan).toMatch(/SEARCH alert_rules USING INTEGER PRIMARY KEY \(rowid=\?\)/);
    db.close();
  });
});
