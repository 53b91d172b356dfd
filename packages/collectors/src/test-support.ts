// Helpers for this package's tests; not exported from index.ts.
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createLogger, type Logger } from "@vigil/common";
import { ProcFs, ProcReadError, type ProcReadOptions } from "./procfs.js";

/** `test/fixtures/<scenario...>/proc` of this package (works from `src/` and from `dist/`). */
export function fixtureProcRoot(...scenario: string[]): string {
  return fileURLToPath(new URL(`../test/fixtures/${[...scenario, "proc"].join("/")}`, import.meta.url));
}

/** `test/fixtures/<scenario...>/sys` of this package, a recorded or hand-written sysfs tree. */
export function fixtureSysRoot(...scenario: string[]): string {
  return fileURLToPath(new URL(`../test/fixtures/${[...scenario, "sys"].join("/")}`, import.meta.url));
}

/** One JSON log line as pino wrote it. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** pino's number for `warn`. */
export const WARN = 40;

/** A real pino logger (debug and up) whose lines are kept in `lines`. */
export function captureLogger(): { logger: Logger; lines: LogLine[]; warnings: () => LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString("utf8").split("\n"))
        if (text) lines.push(JSON.parse(text) as LogLine);
      callback();
    },
  });
  const logger = createLogger({ name: "test", level: "debug", destination });
  return { logger, lines, warnings: () => lines.filter((l) => l.level === WARN) };
}

/**
 * A ProcFs serving files from memory: a string is the content, an errno code string wrapped in
 * `{ error }` makes `read()` throw that ProcReadError. For cases a temp directory cannot make
 * (EACCES as root) and for property tests over arbitrary content.
 */
export class StubProcFs extends ProcFs {
  private readonly files: Map<string, string | { error: string }>;

  constructor(files: Record<string, string | { error: string }>) {
    super("/nonexistent-vigil-stub-root");
    this.files = new Map(Object.entries(files));
  }

  /** Replaces one file's content (or failure) for the next read. */
  set(relPath: string, content: string | { error: string }): void {
    this.files.set(relPath, content);
  }

  /** Removes one file (or failure), so the next read of it is ENOENT. */
  delete(relPath: string): void {
    this.files.delete(relPath);
  }

  override read(relPath: string, _options?: ProcReadOptions): string {
    const entry = this.files.get(relPath);
    if (entry === undefined) throw new ProcReadError({ code: "ENOENT", path: this.pathOf(relPath) });
    if (typeof entry !== "string") throw new ProcReadError({ code: entry.error, path: this.pathOf(relPath) });
    return entry;
  }

  /** The same files as UTF-8 bytes (a fresh copy, where the real reader returns a view of its buffer). */
  override readBytes(relPath: string, options?: ProcReadOptions): Buffer {
    return Buffer.from(this.read(relPath, options), "utf8");
  }

  /**
   * Directories are implied by the files' paths: `list("")` of `{ "1/stat": … }` is `["1"]`. An
   * `{ error }` entry at the directory's own path makes `list()` throw that error instead.
   */
  override list(relDir: string): string[] {
    const entry = this.files.get(relDir);
    if (entry !== undefined && typeof entry !== "string") {
      throw new ProcReadError({ code: entry.error, path: this.pathOf(relDir) });
    }
    const prefix = relDir === "" ? "" : `${relDir}/`;
    const names = new Set<string>();
    for (const key of this.files.keys()) {
      if (key.startsWith(prefix) && key.length > prefix.length)
        names.add(key.slice(prefix.length).split("/")[0] ?? "");
    }
    if (names.size === 0) throw new ProcReadError({ code: "ENOENT", path: this.pathOf(relDir) });
    return [...names];
  }
}
