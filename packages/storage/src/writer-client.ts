import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "@vigil/common";
import { StorageError, type StorageErrorCode } from "./storage-error.js";
import type {
  DayColumns,
  HeadLatest,
  HeadSnapshotDay,
  WireError,
  WriterInit,
  WriterReply,
  WriterRequest,
} from "./writer-protocol.js";

/** Default bound of the writer's queue, in batches sent and not yet committed. */
export const DEFAULT_MAX_QUEUED_BATCHES = 64;
/** Default bound of the writer's queue, in samples (about 60 MB of columns at 24 bytes a sample). */
export const DEFAULT_MAX_QUEUED_SAMPLES = 2_500_000;

export interface QueueLimits {
  readonly maxBatches: number;
  readonly maxSamples: number;
}

type Request = WriterRequest extends infer R ? (R extends { seq: number } ? Omit<R, "seq"> : never) : never;

interface Waiting {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  /** Samples this request holds in the queue (appends only). */
  readonly samples: number;
}

const STORAGE_CODES: ReadonlySet<string> = new Set<StorageErrorCode>([
  "invalid_batch",
  "invalid_query",
  "too_many_points",
  "closed",
  "newer_schema",
  "invalid_argument",
  "busy",
  "unavailable",
]);

/**
 * The main thread's end of the writer thread: seq-numbered requests, one promise each, and the
 * bounded queue. An append that would take the queue past `maxBatches` or `maxSamples` is refused at
 * once with a `busy` StorageError (an append into an empty queue always goes, however big), so the
 * ingest service can ask agents to slow down instead of buffering without bound.
 */
export class WriterClient {
  readonly #worker: Worker;
  readonly #logger: Logger | undefined;
  readonly #limits: QueueLimits;
  readonly #waiting = new Map<number, Waiting>();
  #seq = 0;
  #queuedBatches = 0;
  #queuedSamples = 0;
  /** Set once the thread cannot take requests (start-up failed, it crashed, or it was closed). */
  #dead: Error | undefined;

  constructor(init: WriterInit, limits: QueueLimits, logger: Logger | undefined) {
    this.#logger = logger;
    this.#limits = limits;
    this.#worker = takeWorker();
    this.#worker.on("message", this.#onMessage);
    this.#worker.on("error", this.#onError);
    this.#worker.on("exit", this.#onExit);
    // Requests sent before the reply queue behind init: the thread answers them after the replay.
    this.#worker.postMessage({ t: "init", init } satisfies WriterRequest);
  }

  /** Batches and samples sent to the writer and not yet answered. */
  get queued(): { batches: number; samples: number } {
    return { batches: this.#queuedBatches, samples: this.#queuedSamples };
  }

  /**
   * Takes room for a batch of `samples` in the queue, or throws a `busy` StorageError when the queue
   * is full (a batch into an empty queue always fits, however big). Follow with `append` or `release`.
   */
  reserve(samples: number): void {
    if (this.#dead) throw this.#dead;
    if (
      this.#queuedBatches > 0 &&
      (this.#queuedBatches + 1 > this.#limits.maxBatches ||
        this.#queuedSamples + samples > this.#limits.maxSamples)
    ) {
      throw new StorageError(
        "busy",
        `the storage writer is behind (${this.#queuedBatches} batches, ${this.#queuedSamples} samples queued); resend later`,
      );
    }
    this.#queuedBatches++;
    this.#queuedSamples += samples;
  }

  /** Gives back room taken by `reserve` for a batch that will not be sent. */
  release(samples: number): void {
    this.#queuedBatches--;
    this.#queuedSamples -= samples;
  }

  /**
   * Sends a batch reserved with `reserve`; resolves to the samples accepted once committed. Its
   * column buffers are transferred: the caller must not touch them again.
   */
  append(agentId: string, days: DayColumns[], samples: number): Promise<number> {
    const transfer = days.flatMap(
      (d) => [d.seriesIds.buffer, d.timestamps.buffer, d.values.buffer] as ArrayBuffer[],
    );
    return this.#send({ t: "append", agentId, days }, samples, transfer) as Promise<number>;
  }

  snapshot(days: number[], seriesIds: number[], fromMs: number, toMs: number): Promise<HeadSnapshotDay[]> {
    return this.#send({ t: "snapshot", days, seriesIds, fromMs, toMs }, 0) as Promise<HeadSnapshotDay[]>;
  }

  latest(seriesIds: number[]): Promise<HeadLatest[]> {
    return this.#send({ t: "latest", seriesIds }, 0) as Promise<HeadLatest[]>;
  }

  /** Has the writer close and delete these days' files; resolves to their paths. */
  runRetention(days: number[]): Promise<string[]> {
    return this.#send({ t: "retention", days }, 0) as Promise<string[]>;
  }

  setMaxDayFileBytes(bytes: number | undefined): Promise<void> {
    return this.#send({ t: "limit", maxDayFileBytes: bytes }, 0) as Promise<void>;
  }

  /** Commits what is queued, flushes every head, closes the files and frees the thread (kept idle for reuse). */
  async close(): Promise<void> {
    let ok = false;
    try {
      await this.#send({ t: "close" }, 0);
      ok = true;
    } finally {
      this.#dead ??= new StorageError("closed", "storage engine is closed");
      this.#worker.off("message", this.#onMessage);
      this.#worker.off("error", this.#onError);
      this.#worker.off("exit", this.#onExit);
      if (!ok || !returnWorker(this.#worker)) await this.#worker.terminate();
    }
  }

  #send(req: Request, samples: number, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.#dead) {
      if (samples > 0) this.release(samples);
      return Promise.reject(this.#dead);
    }
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve, reject, samples });
      this.#worker.postMessage({ ...req, seq }, transfer);
    });
  }

  readonly #onError = (err: Error): void => {
    this.#logger?.error({ err }, "storage writer thread failed");
    this.#fail(new StorageError("unavailable", `the storage writer thread failed: ${err.message}`));
  };

  readonly #onExit = (code: number): void => {
    this.#fail(new StorageError("closed", `the storage writer thread exited (code ${code})`));
  };

  readonly #onMessage = (m: WriterReply): void => {
    switch (m.t) {
      case "ready":
        return;
      case "log":
        this.#logger?.[m.level](m.fields, m.msg);
        return;
      case "fatal":
        this.#fail(fromWire(m.error));
        return;
      case "done":
      case "fail": {
        const w = this.#waiting.get(m.seq);
        if (!w) return;
        this.#waiting.delete(m.seq);
        if (w.samples > 0) this.release(w.samples);
        if (m.t === "done") w.resolve(m.value);
        else w.reject(fromWire(m.error));
        return;
      }
    }
  };

  /** Rejects everything waiting; later requests reject with the same error. */
  #fail(err: Error): void {
    this.#dead ??= err;
    for (const w of this.#waiting.values()) {
      if (w.samples > 0) this.release(w.samples);
      w.reject(err);
    }
    this.#waiting.clear();
  }
}

function fromWire(e: WireError): Error {
  if (e.name === "StorageError" && e.code !== undefined && STORAGE_CODES.has(e.code))
    return new StorageError(e.code as StorageErrorCode, e.message);
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/**
 * One idle writer thread per process, kept after an engine closes: starting a thread and loading
 * better-sqlite3 in it costs tens of milliseconds, which tests that reopen engines would pay each time.
 * Unref'd while idle, so it never keeps the process alive.
 */
let idle: Worker | undefined;

function takeWorker(): Worker {
  const w = idle ?? startWorker();
  idle = undefined;
  w.ref();
  return w;
}

/** Keeps `w` as the idle thread; false when one is kept already (the caller ends `w`). */
function returnWorker(w: Worker): boolean {
  if (idle) return false;
  w.unref();
  idle = w;
  return true;
}

/**
 * Starts writer-worker: the built `.js` beside this file or, when running from source (vitest, tsx:
 * Node 20 passes no `--import` loader on to worker threads), a bundle of the `.ts` that esbuild (a dev
 * dependency, loaded only then) writes once per process: far quicker to start than tsx in every thread.
 */
function startWorker(): Worker {
  const js = new URL("./writer-worker.js", import.meta.url);
  const w = new Worker(existsSync(fileURLToPath(js)) ? js : sourceBundle());
  // An idle thread that fails or exits is simply not reused (while in use, the client hears it too).
  const forget = () => {
    if (idle === w) idle = undefined;
  };
  w.on("error", forget);
  w.on("exit", forget);
  return w;
}

let bundled: string | undefined;

function sourceBundle(): string {
  if (bundled) return bundled;
  const require = createRequire(import.meta.url);
  const esbuild = require("esbuild") as {
    buildSync(options: Record<string, unknown>): unknown;
  };
  // Inside node_modules, so the bundle's `import "better-sqlite3"` resolves as it does from source.
  const modules = dirname(dirname(require.resolve("better-sqlite3/package.json")));
  mkdirSync(join(modules, ".cache"), { recursive: true });
  const out = join(mkdtempSync(join(modules, ".cache", "vigil-writer-")), "writer-worker.mjs");
  esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL("./writer-worker.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: out,
    // A native addon: left to Node's resolution.
    external: ["better-sqlite3"],
    logLevel: "error",
  });
  process.once("exit", () => rmSync(dirname(out), { recursive: true, force: true }));
  bundled = out;
  return out;
}
