import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Logger, SeriesSamples } from "@vigil/common";
import { BatchSchema, batchSampleCount, decodeBatch, encodeBatch } from "@vigil/protocol";

/** A batch read back from the spool on start. */
export interface SpooledBatch {
  readonly seq: number;
  readonly series: SeriesSamples[];
  readonly samples: number;
}

/** What the queue needs from a spool (tests may pass a fake). */
export interface BatchSpool {
  write(seq: number, series: readonly SeriesSamples[]): void;
  remove(seq: number): void;
  /** Bytes of the spooled files now. */
  readonly bytes: number;
  readonly maxBytes: number;
}

const FILE_RE = /^(\d{1,15})\.batch$/;
/** Zero-padded so a directory listing sorts oldest first. */
const fileName = (seq: number) => `${String(seq).padStart(15, "0")}.batch`;

/**
 * The agent's on-disk spool: one file per sealed, unacknowledged batch, `<seq, 15 digits>.batch`,
 * holding the protobuf `Batch` bytes exactly as they go on the wire. A file is written when its
 * batch is sealed (to `<name>.tmp`, then renamed, so a crash never leaves half a batch under the
 * real name) and deleted when the batch is acked, rejected or dropped. No fsync per batch: a file
 * survives a crash of the agent process (the page cache belongs to the kernel), not necessarily a
 * power cut. The directory is created with mode 0700.
 */
export class Spool implements BatchSpool {
  private readonly sizes = new Map<number, number>();
  private total = 0;
  private readonly log: Logger;

  constructor(
    readonly dir: string,
    public maxBytes: number,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "spool", dir });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  get bytes(): number {
    return this.total;
  }

  /** Batches spooled now, in seq order. */
  get count(): number {
    return this.sizes.size;
  }

  /**
   * Reads every spooled batch, oldest (lowest seq) first. Leftover `.tmp` files and files that do
   * not decode are deleted (logged); the caller puts the batches back in its queue.
   */
  load(): SpooledBatch[] {
    const out: SpooledBatch[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      const path = join(this.dir, name);
      if (name.endsWith(".tmp")) {
        this.unlinkQuietly(path);
        continue;
      }
      const m = FILE_RE.exec(name);
      if (!m) continue;
      const seq = Number(m[1]);
      try {
        const bytes = readFileSync(path);
        const batch = fromBinary(BatchSchema, bytes);
        const series = decodeBatch(batch);
        out.push({ seq, series, samples: batchSampleCount(batch) });
        this.sizes.set(seq, bytes.length);
        this.total += bytes.length;
      } catch (err) {
        this.log.warn(
          { file: name, reason: err instanceof Error ? err.message : String(err) },
          "spooled batch unreadable; deleted",
        );
        this.unlinkQuietly(path);
      }
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  write(seq: number, series: readonly SeriesSamples[]): void {
    const bytes = toBinary(BatchSchema, encodeBatch(seq, series));
    const path = join(this.dir, fileName(seq));
    try {
      writeFileSync(`${path}.tmp`, bytes, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.log.warn(
        { seq, reason: err instanceof Error ? err.message : String(err) },
        "could not spool a batch; it is held in memory only",
      );
      this.unlinkQuietly(`${path}.tmp`);
      return;
    }
    this.total -= this.sizes.get(seq) ?? 0;
    this.sizes.set(seq, bytes.length);
    this.total += bytes.length;
  }

  remove(seq: number): void {
    const size = this.sizes.get(seq);
    if (size === undefined) return;
    this.sizes.delete(seq);
    this.total -= size;
    this.unlinkQuietly(join(this.dir, fileName(seq)));
  }

  private unlinkQuietly(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.log.warn({ file: path, reason: (err as Error).message }, "could not delete a spool file");
    }
  }
}
