import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ChunkDayFile, type DayFileWriteOptions } from "./chunk-day-file.js";
import { dayFilesBetween, dayNumberFileName, samplesDir } from "./data-dir-layout.js";
import { synchronousFor } from "./db.js";
import { Applied, DayHead } from "./head.js";
import { StorageError } from "./storage-error.js";
import { encodeWalBatch } from "./wal-batch-codec.js";
import type {
  DayColumns,
  HeadLatest,
  HeadSnapshotDay,
  HeadSnapshotSeries,
  LogLevel,
  WriterInit,
} from "./writer-protocol.js";

/** How often (in batches) the head is scanned for chunks past `maxHeadAgeBatches`. */
const AGE_SCAN_INTERVAL_BATCHES = 100;

/** A batch waiting for the next group commit. */
export interface QueuedBatch {
  readonly agentId: string;
  readonly days: readonly DayColumns[];
}

/** What became of one batch of a group commit: samples accepted, or why it failed. */
export type CommitOutcome = { readonly accepted: number } | { readonly error: unknown };

export type WriterLog = (level: LogLevel, fields: Record<string, unknown>, msg: string) => void;

/**
 * The write half of the chunked engine (docs/storage.md), run by the writer thread: it owns the write
 * connection of every open day file and its head. `commit` appends a group of batches to their day
 * files' `wal_batches` (one transaction per day: group commit) and applies them to the heads;
 * `maintain` flushes sealed chunks, deletes `wal_batches` rows nothing in memory needs, and keeps
 * every `-wal` under the cap. Everything is synchronous: the thread's event loop only feeds it.
 */
export class WriterCore {
  readonly #dir: string;
  readonly #log: WriterLog;
  readonly #maxOpen: number;
  readonly #maxAge: number;
  readonly #walMaxBytes: number;
  #fileOptions: DayFileWriteOptions;
  /** Open day files, with their head; in recency order (first = least recently used). */
  readonly #heads = new Map<number, DayHead>();
  /** Batches accepted so far: the clock of chunk ageing. */
  #tick = 0;
  #lastAgeScan = 0;
  /** Day files whose `-wal` passed the cap and could not be truncated yet (a reader was in it). */
  readonly #overCap = new Set<number>();
  /** Day files whose truncating checkpoint failed (a read-only or full file): logged once per episode. */
  readonly #checkpointFailing = new Set<number>();
  /**
   * Days whose head was rebuilt after a failed write: their connection may be a read-only one (SQLite
   * opens a file it may not write read-only), so the next write reopens the file instead of failing on
   * that connection after the file has become writable again.
   */
  readonly #reopenBeforeWrite = new Set<number>();

  constructor(init: WriterInit, log: WriterLog) {
    this.#dir = samplesDir(init.dataDir);
    this.#log = log;
    this.#maxOpen = init.maxOpenDays;
    this.#maxAge = init.maxHeadAgeBatches;
    this.#walMaxBytes = init.walMaxBytes;
    this.#fileOptions = {
      synchronous: synchronousFor(init.durability),
      walMaxBytes: init.walMaxBytes,
      maxBytes: init.maxDayFileBytes,
    };
  }

  /** Replays every day file's `wal_batches` into its head (what a crash left), keeping open only those with a head. */
  start(): void {
    for (const day of dayFilesBetween(this.#dir, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)) {
      const head = this.#head(day, false);
      if (head?.empty) {
        head.file.close();
        this.#heads.delete(day);
      }
    }
  }

  /**
   * Writes a group of batches: per day file one IMMEDIATE transaction appending each batch's row to
   * `wal_batches` and its samples to the head. A day whose transaction fails fails every batch with
   * samples in it (as a retryable `unavailable` error); the other days still commit, and a resent batch
   * is deduplicated by series and timestamp.
   */
  commit(group: readonly QueuedBatch[]): CommitOutcome[] {
    const accepted = new Array<number>(group.length).fill(0);
    const failed = new Array<unknown>(group.length).fill(undefined);
    const days = new Set<number>();
    for (const b of group) for (const d of b.days) days.add(d.day);
    for (const day of [...days].sort((a, b) => a - b)) {
      const users: { i: number; cols: DayColumns }[] = [];
      group.forEach((b, i) => {
        if (failed[i] !== undefined) return;
        const cols = b.days.find((d) => d.day === day);
        if (cols) users.push({ i, cols });
      });
      if (users.length === 0) continue;
      let head: DayHead | undefined;
      try {
        if (this.#reopenBeforeWrite.delete(day)) this.#drop(day);
        head = this.#head(day, true) as DayHead;
        const h = head;
        const counts = h.file.transaction(() =>
          users.map(({ i, cols }) => {
            const seq = h.file.appendWal((group[i] as QueuedBatch).agentId, encodeWalBatch(cols));
            const tick = ++this.#tick;
            let n = 0;
            const { seriesIds, timestamps, values } = cols;
            for (let k = 0; k < seriesIds.length; k++) {
              if (
                h.apply(seriesIds[k] as number, timestamps[k] as number, values[k] as number, seq, tick) ===
                Applied.Accepted
              )
                n++;
            }
            return n;
          }),
        );
        users.forEach(({ i }, k) => {
          accepted[i] = (accepted[i] as number) + (counts[k] as number);
        });
      } catch (err) {
        const why = writeFailure(err, head?.file.path ?? join(this.#dir, dayNumberFileName(day)));
        this.#log(
          "error",
          { err: why.message, code: errorCode(err), batches: users.length },
          "could not write batches; they are not acked and will be resent",
        );
        for (const { i } of users) failed[i] = why;
        // The rolled-back transaction may have left its samples in the head's memory: drop the head
        // so the next write reopens the file and rebuilds it from the committed wal_batches alone
        // (else a resent batch would count as duplicates of samples no commit holds). (When the file
        // could not be opened or replayed, a half-built head may be cached: dropped too.)
        this.#drop(day);
        // Rebuilt now, not at the next write: until then queries would miss every acked sample that
        // lives only in wal_batches and the head. If that fails too, the next write tries again.
        this.#reopenBeforeWrite.add(day);
        try {
          this.#head(day, false);
        } catch (reopenErr) {
          this.#drop(day);
          this.#log(
            "error",
            { err: errorMessage(reopenErr), code: errorCode(reopenErr), day: dayNumberFileName(day) },
            "could not reload a day file's head after a failed write; its unflushed samples are invisible to queries until the next write",
          );
        }
      }
    }
    return group.map((_, i) =>
      failed[i] !== undefined ? { error: failed[i] } : { accepted: accepted[i] as number },
    );
  }

  /**
   * After a commit: flushes sealed chunks (and, now and then, chunks idle too long), closes idle files
   * beyond `maxOpenDays`, and truncates any `-wal` past the cap. Failures are logged and retried after
   * the next commit: the rows stay in `wal_batches`.
   */
  maintain(): void {
    const scan = this.#tick - this.#lastAgeScan >= AGE_SCAN_INTERVAL_BATCHES;
    if (scan) this.#lastAgeScan = this.#tick;
    for (const [day, head] of this.#heads) {
      try {
        if (scan) head.sealOlderThan(this.#tick - this.#maxAge);
        head.flush();
      } catch (err) {
        this.#log(
          "error",
          { err: errorMessage(err), code: errorCode(err), path: head.file.path },
          "could not flush chunks; will retry",
        );
        continue;
      }
      try {
        this.#capWal(day, head);
      } catch (err) {
        // A checkpoint writes into the day file itself: a file made read-only (or a full disk) fails it
        // while commits still go to the -wal. Keep going (the -wal grows past the cap meanwhile) and
        // retry after the next commit; say so once per episode.
        if (!this.#checkpointFailing.has(day)) {
          this.#checkpointFailing.add(day);
          this.#log(
            "error",
            {
              err: errorMessage(err),
              code: errorCode(err),
              path: head.file.path,
              walBytes: head.file.walBytes(),
            },
            "could not checkpoint the -wal into the day file (read-only or full?); commits go on into the -wal, will retry after the next commit",
          );
        }
        continue;
      }
      if (head.empty && this.#heads.size > this.#maxOpen) {
        head.file.close();
        this.#heads.delete(day);
        this.#overCap.delete(day);
      }
    }
  }

  /**
   * The head's samples of `seriesIds` in [fromMs, toMs] for each of `days` that has a head, with each
   * series' flushed end (see `HeadSnapshotSeries`). Read before the reader opens the files.
   */
  snapshot(
    days: readonly number[],
    seriesIds: readonly number[],
    fromMs: number,
    toMs: number,
  ): HeadSnapshotDay[] {
    const out: HeadSnapshotDay[] = [];
    for (const day of days) {
      const head = this.#heads.get(day);
      if (!head || head.empty) continue;
      const series: HeadSnapshotSeries[] = [];
      for (const id of seriesIds) {
        const chunks = head.series.get(id);
        if (!chunks) continue;
        const ts: number[] = [];
        const vs: number[] = [];
        for (const c of chunks) {
          for (let j = 0; j < c.ts.length; j++) {
            const t = c.ts[j] as number;
            if (t >= fromMs && t <= toMs) {
              ts.push(t);
              vs.push(c.vs[j] as number);
            }
          }
        }
        series.push({
          id,
          flushedEnd: head.flushedEnd(id),
          timestamps: Float64Array.from(ts),
          values: Float64Array.from(vs),
        });
      }
      if (series.length > 0) out.push({ day, series });
    }
    return out;
  }

  /** The newest head sample of each of `seriesIds`, per open day that has one. */
  latest(seriesIds: readonly number[]): HeadLatest[] {
    const out: HeadLatest[] = [];
    for (const [day, head] of this.#heads) {
      for (const id of seriesIds) {
        const chunks = head.series.get(id);
        const open = chunks?.[chunks.length - 1];
        if (open && open.ts.length > 0)
          out.push({
            id,
            day,
            ts: open.ts[open.ts.length - 1] as number,
            value: open.vs[open.vs.length - 1] as number,
          });
      }
    }
    return out;
  }

  /** Closes (dropping the head) and deletes the files of `days`, past retention; returns their paths. */
  deleteDays(days: readonly number[]): string[] {
    const deleted: string[] = [];
    for (const day of days) {
      const head = this.#heads.get(day);
      if (head) {
        head.file.close();
        this.#heads.delete(day);
        this.#overCap.delete(day);
      }
      const path = join(this.#dir, dayNumberFileName(day));
      // The -wal first: a -wal left behind by a crash here would be applied to a later file of that day.
      for (const suffix of ["-wal", "-shm", ""]) rmSync(`${path}${suffix}`, { force: true });
      deleted.push(path);
    }
    return deleted;
  }

  /** Changes the size limit of every day file, open ones included (undefined: none). */
  setMaxDayFileBytes(bytes: number | undefined): void {
    this.#fileOptions = { ...this.#fileOptions, maxBytes: bytes };
    for (const head of this.#heads.values()) head.file.setMaxBytes(bytes);
    this.#log("info", { maxDayFileBytes: bytes ?? null }, "day file size limit changed");
  }

  /** Flushes every head into chunks (emptying `wal_batches`) and closes every file. */
  close(): void {
    let firstError: unknown;
    for (const head of this.#heads.values()) {
      try {
        head.sealOlderThan(Number.POSITIVE_INFINITY);
        head.flush();
      } catch (err) {
        // The rows stay in wal_batches and are replayed on the next start.
        this.#log(
          "error",
          { err: errorMessage(err), path: head.file.path },
          "could not flush the head at close",
        );
        firstError ??= err;
      }
      head.file.close();
    }
    this.#heads.clear();
    if (firstError) throw firstError;
  }

  /** Truncates the day's `-wal` once it has passed the cap (a no-op below it: one stat call). */
  #capWal(day: number, head: DayHead): void {
    if (head.file.walBytes() <= this.#walMaxBytes) {
      this.#overCap.delete(day);
      return;
    }
    const truncated = head.file.checkpointTruncate();
    if (this.#checkpointFailing.delete(day))
      this.#log("info", { path: head.file.path }, "checkpoints of the day file work again");
    if (truncated) {
      this.#overCap.delete(day);
      return;
    }
    // A reader was inside the -wal: retry after the next commit; say so once per episode.
    if (!this.#overCap.has(day)) {
      this.#overCap.add(day);
      this.#log(
        "warn",
        { path: head.file.path, walBytes: head.file.walBytes(), walMaxBytes: this.#walMaxBytes },
        "-wal past its cap and a reader is using it; will truncate after the next commit",
      );
    }
  }

  /** Closes the day's file and forgets its head (nothing is written: what it held is in wal_batches). */
  #drop(day: number): void {
    const head = this.#heads.get(day);
    if (!head) return;
    head.file.close();
    this.#heads.delete(day);
    this.#overCap.delete(day);
    this.#checkpointFailing.delete(day);
  }

  /** The head of `day`, opening (and replaying) its file; undefined when the file is missing and `create` is false. */
  #head(day: number, create: boolean): DayHead | undefined {
    const cached = this.#heads.get(day);
    if (cached) {
      this.#heads.delete(day);
      this.#heads.set(day, cached);
      return cached;
    }
    const path = join(this.#dir, dayNumberFileName(day));
    if (create) mkdirSync(this.#dir, { recursive: true });
    let file: ChunkDayFile;
    try {
      file = ChunkDayFile.open(path, day, create, this.#fileOptions);
    } catch (err) {
      if (!create && errorCode(err) === "SQLITE_CANTOPEN") return undefined;
      throw err;
    }
    const head = new DayHead(file);
    this.#heads.set(day, head);
    this.#replay(head);
    this.#evict();
    return head;
  }

  /** Applies the file's `wal_batches` rows to its head, then flushes what that sealed. */
  #replay(head: DayHead): void {
    const rows = head.file.walRows();
    if (rows.length === 0) return;
    let samples = 0;
    head.file.transaction(() => {
      for (const [seq, r] of rows) {
        const tick = ++this.#tick;
        for (let i = 0; i < r.seriesIds.length; i++) {
          head.apply(r.seriesIds[i] as number, r.timestamps[i] as number, r.values[i] as number, seq, tick);
        }
        samples += r.seriesIds.length;
      }
    });
    head.flush();
    this.#log(
      "info",
      { path: head.file.path, batches: rows.length, samples },
      "replayed wal_batches into the head",
    );
  }

  /** Closes least recently used files beyond `maxOpen` whose head holds nothing. */
  #evict(): void {
    if (this.#heads.size <= this.#maxOpen) return;
    for (const [day, head] of this.#heads) {
      if (this.#heads.size <= this.#maxOpen) break;
      if (!head.empty) continue;
      head.file.close();
      this.#heads.delete(day);
    }
  }
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A failed write as the caller sees it: a refusal the storage layer itself made stays as it is;
 * anything from the disk (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR, ENOSPC, EROFS, EACCES...) becomes
 * a retryable `unavailable` error that names the file and the cause.
 */
function writeFailure(err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = errorCode(err);
  const hint =
    code === "SQLITE_FULL" || code === "ENOSPC"
      ? " (the disk or the file's size limit is full; free space and the batch will be resent)"
      : code?.startsWith("SQLITE_READONLY") || code === "EROFS" || code === "EACCES"
        ? " (the file, its -wal or -shm, or its folder is read-only; make them writable and the batch will be resent)"
        : "";
  return new StorageError(
    "unavailable",
    `could not write ${path}: ${errorMessage(err)}${code ? ` [${code}]` : ""}${hint}`,
  );
}
