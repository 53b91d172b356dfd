import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUSY_TIMEOUT_MS, openReadonlyDb, openWritableDb } from "./db.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-db-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("openWritableDb", () => {
  it("opens in WAL mode with synchronous NORMAL, a busy timeout and, when asked, foreign keys", () => {
    const db = openWritableDb(join(dir, "a.db"), { create: true, foreignKeys: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(1); // NORMAL
    expect(db.pragma("busy_timeout", { simple: true })).toBe(BUSY_TIMEOUT_MS);
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    db.close();
  });

  it("leaves foreign keys off unless asked", () => {
    const db = openWritableDb(join(dir, "b.db"), { create: true });
    expect(db.pragma("foreign_keys", { simple: true })).toBe(0);
    db.close();
  });

  it("does not create a file when create is false", () => {
    expect(() => openWritableDb(join(dir, "missing.db"), { create: false })).toThrow();
    expect(() => openReadonlyDb(join(dir, "missing.db"))).toThrow();
  });

  it("gives read-only connections that refuse writes", () => {
    const path = join(dir, "c.db");
    const w = openWritableDb(path, { create: true });
    w.exec("CREATE TABLE t (x)");
    const r = openReadonlyDb(path);
    expect(() => r.exec("INSERT INTO t VALUES (1)")).toThrow(/readonly/);
    r.close();
    w.close();
  });
});
