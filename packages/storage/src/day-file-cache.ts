import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@vigil/common";
import { dayNumberFileName } from "./data-dir-layout.js";
import { DayFile } from "./day-file.js";

/** How many day files stay open by default: today, yesterday, and a few for queries. */
export const DEFAULT_MAX_OPEN_DAYS = 8;

/**
 * A bounded least-recently-used set of open day files, so a query over a year opens files one after
 * another instead of holding hundreds of handles. Callers use a `DayFile` only synchronously right
 * after getting it, so a file evicted (closed) by a later get is never in use.
 */
export class DayFileCache {
  readonly #dir: string;
  readonly #max: number;
  readonly #logger: Logger | undefined;
  /** Map order is recency: the first entry is the least recently used. */
  readonly #open = new Map<number, DayFile>();

  constructor(dir: string, maxOpen: number, logger: Logger | undefined) {
    if (!Number.isInteger(maxOpen) || maxOpen < 1)
      throw new Error(`maxOpenDays must be an integer >= 1, not ${maxOpen}`);
    this.#dir = dir;
    this.#max = maxOpen;
    this.#logger = logger;
  }

  /** How many files are open now. */
  get size(): number {
    return this.#open.size;
  }

  /** The open file of `day`, creating the file (and the samples folder) when missing. For writes. */
  getOrCreate(day: number): DayFile {
    return this.#get(day, true) as DayFile;
  }

  /** The open file of `day`, or `undefined` when it does not exist. For reads, which never create files. */
  getExisting(day: number): DayFile | undefined {
    return this.#get(day, false);
  }

  /** Closes every open file. */
  closeAll(): void {
    for (const file of this.#open.values()) file.close();
    this.#open.clear();
  }

  #get(day: number, create: boolean): DayFile | undefined {
    const cached = this.#open.get(day);
    if (cached) {
      this.#open.delete(day);
      this.#open.set(day, cached);
      return cached;
    }
    const path = join(this.#dir, dayNumberFileName(day));
    if (!create && !existsSync(path)) return undefined;
    // Only on a miss that creates a file (about once a day), so re-checking the folder costs nothing.
    if (create) mkdirSync(this.#dir, { recursive: true });
    const file = DayFile.open(path, day, create);
    this.#open.set(day, file);
    this.#logger?.debug({ path }, "day file opened");
    while (this.#open.size > this.#max) {
      const [oldestDay, oldest] = this.#open.entries().next().value as [number, DayFile];
      this.#open.delete(oldestDay);
      oldest.close();
      this.#logger?.debug({ path: oldest.path }, "day file closed (least recently used)");
    }
    return file;
  }
}
