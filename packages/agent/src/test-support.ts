// Helpers for this package's tests; not exported from index.ts.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "@vigil/common";

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
