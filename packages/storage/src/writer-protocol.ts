/**
 * Messages between `ChunkedStorageEngine` (main thread, writer-client.ts) and its writer thread
 * (writer-worker.ts). Requests carry a `seq`; every request gets exactly one `done` or `fail` reply
 * with that seq (Signal-Desktop's mainWorker.ts). Sample columns travel as transferred Float64Arrays.
 */
import type { Durability } from "./db.js";

/** What the writer thread is started with (its first message, `init`; a thread is reused after `close`). */
export interface WriterInit {
  readonly dataDir: string;
  readonly maxOpenDays: number;
  readonly maxHeadAgeBatches: number;
  readonly durability: Durability;
  readonly walMaxBytes: number;
  /** Day files never grow past this (`PRAGMA max_page_count`); undefined: no limit. */
  readonly maxDayFileBytes: number | undefined;
}

/** One batch's samples of one UTC day, in columns. */
export interface DayColumns {
  readonly day: number;
  readonly seriesIds: Float64Array;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

/** Per open day: the head's points of the asked series inside the asked range. */
export interface HeadSnapshotDay {
  readonly day: number;
  /** Series that have samples in the head of this day (in range or not). */
  readonly series: readonly HeadSnapshotSeries[];
}

export interface HeadSnapshotSeries {
  readonly id: number;
  /** Chunks of this series starting after this timestamp were flushed after the snapshot: skip them. */
  readonly flushedEnd: number;
  /** Ascending. */
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

/** The newest head sample of a series in one day. */
export interface HeadLatest {
  readonly id: number;
  readonly day: number;
  readonly ts: number;
  readonly value: number;
}

export type WriterRequest =
  | { readonly t: "init"; readonly init: WriterInit }
  | { readonly t: "append"; readonly seq: number; readonly agentId: string; readonly days: DayColumns[] }
  | {
      readonly t: "snapshot";
      readonly seq: number;
      readonly days: number[];
      readonly seriesIds: number[];
      readonly fromMs: number;
      readonly toMs: number;
    }
  | { readonly t: "latest"; readonly seq: number; readonly seriesIds: number[] }
  /** Close and delete these days' files (the main thread decided retention); replies with their paths. */
  | { readonly t: "retention"; readonly seq: number; readonly days: number[] }
  | { readonly t: "limit"; readonly seq: number; readonly maxDayFileBytes: number | undefined }
  | { readonly t: "close"; readonly seq: number };

/** A caught error as it crosses threads: the fields the main thread rebuilds it from. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** StorageError code or SQLite/Node error code. */
  readonly code: string | undefined;
  readonly stack: string | undefined;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export type WriterReply =
  /** `init` done: every day file's `wal_batches` replayed. */
  | { readonly t: "ready" }
  | { readonly t: "done"; readonly seq: number; readonly value: unknown }
  | { readonly t: "fail"; readonly seq: number; readonly error: WireError }
  | {
      readonly t: "log";
      readonly level: LogLevel;
      readonly fields: Record<string, unknown>;
      readonly msg: string;
    }
  /** Start-up (retention, replay) failed: the writer cannot run. */
  | { readonly t: "fatal"; readonly error: WireError };

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    const code = "code" in err && typeof err.code === "string" ? err.code : undefined;
    return { name: err.name, message: err.message, code, stack: err.stack };
  }
  return { name: "Error", message: String(err), code: undefined, stack: undefined };
}
