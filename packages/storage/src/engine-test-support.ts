// Helpers for this package's engine tests; not exported from index.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { Catalog } from "./catalog.js";

/** A data dir per test; see {@link dataDirPerTest}. */
export interface TestDataDir {
  /** This test's data dir. Read it inside a test, never at load time. */
  readonly path: string;
  /** Runs `close` after the test, before the dir is removed; the newest registered runs first. */
  onClose(close: () => Promise<void> | void): void;
}

/** A fresh data dir for each test of the file that calls this at its top level, removed after it. */
export function dataDirPerTest(prefix: string): TestDataDir {
  let current: string | undefined;
  let closers: (() => Promise<void> | void)[] = [];
  beforeEach(() => {
    current = mkdtempSync(join(tmpdir(), prefix));
    closers = [];
  });
  afterEach(async () => {
    try {
      for (const close of closers.reverse()) await close();
    } finally {
      if (current !== undefined) rmSync(current, { recursive: true, force: true });
      current = undefined;
    }
  });
  return {
    get path(): string {
      if (current === undefined) throw new Error("dataDirPerTest: path read outside a test");
      return current;
    },
    onClose(close) {
      closers.push(close);
    },
  };
}

/**
 * Opens a catalog on `dataDir` and the engine `open` makes with it. `close` closes both, once; it also
 * runs after the test if the test did not call it.
 */
export function openEngineForTest<E extends { close(): Promise<void> }>(
  data: TestDataDir,
  open: (catalog: Catalog, dataDir: string) => E,
  dataDir: string = data.path,
): { catalog: Catalog; engine: E; close: () => Promise<void> } {
  const catalog = Catalog.open(dataDir);
  const engine = open(catalog, dataDir);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await engine.close();
    catalog.close();
  };
  data.onClose(close);
  return { catalog, engine, close };
}
