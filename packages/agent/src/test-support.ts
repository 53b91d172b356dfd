// Helpers for this package's tests; not exported from index.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type ConfigError, createLogger, isConfigError, type Logger } from "@vigil/common";
import { afterEach, beforeEach } from "vitest";

/** One JSON log line as pino wrote it. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** pino's level numbers. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A real pino logger (debug and up) whose lines are kept in memory, in order. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString("utf8").split("\n"))
        if (text) lines.push(JSON.parse(text) as LogLine);
      callback();
    },
  });
  return { logger: createLogger({ name: "test", level: "debug", destination }), lines };
}

/** A promise and the functions that settle it, for collectors and servers a test releases by hand. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A fresh temp directory for each test of the file that calls this at its top level: made in
 * `beforeEach`, removed in `afterEach`. Read `path` inside a test, never at load time.
 */
export function tempDirPerTest(prefix: string): { readonly path: string } {
  let current: string | undefined;
  beforeEach(() => {
    current = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    if (current !== undefined) rmSync(current, { recursive: true, force: true });
    current = undefined;
  });
  return {
    get path(): string {
      if (current === undefined) throw new Error("tempDirPerTest: path read outside a test");
      return current;
    },
  };
}

/** The ConfigError `fn` throws (or rejects with); fails the test when it throws something else or nothing. */
export async function configErrorOf(fn: () => unknown): Promise<ConfigError> {
  try {
    await fn();
  } catch (err) {
    if (isConfigError(err)) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}
