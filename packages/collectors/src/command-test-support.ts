// Helpers for the tests of the collectors that run commands or read files; not exported from index.ts.
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "@vigil/common";
import type { CollectContext } from "./collector.js";
import { ProcFs } from "./procfs.js";

/** Absolute path of `test/fixtures/<parts...>` of this package (works from `src/` and from `dist/`). */
export function fixturePath(...parts: string[]): string {
  return fileURLToPath(new URL(`../test/fixtures/${parts.join("/")}`, import.meta.url));
}

/** The text of a fixture file. */
export function fixtureFile(...parts: string[]): string {
  return fs.readFileSync(fixturePath(...parts), "utf8");
}

/** A test double program under `test/fixtures/bin/`. */
export function fixtureBin(name: string): string {
  return fixturePath("bin", name);
}

/** A context for collectors that read no procfs: its readers point nowhere. */
export function commandContext(now: number, logger: Logger): CollectContext {
  const nowhere = new ProcFs("/nonexistent-vigil-test-root");
  return { now, proc: nowhere, sys: nowhere, logger };
}
