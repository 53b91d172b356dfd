import { encodeChunk } from "./chunk-codec.js";
import { binarySearch, type ChunkDayFile, type ChunkToWrite, MAX_CHUNK_SPAN_MS } from "./chunk-day-file.js";

/** A chunk is cut when it holds this many samples (about 1.4 bytes/sample for gauges; see docs/storage.md). */
export const MAX_CHUNK_SAMPLES = 240;

/** An in-memory chunk of one series: ascending timestamps and their values, not yet in `chunks`. */
export interface HeadChunk {
  readonly ts: number[];
  readonly vs: number[];
  /** The lowest `wal_batches.seq` whose samples are in this chunk: that row must stay until it is flushed. */
  firstSeq: number;
  /** The engine's batch counter when the chunk got its first sample: chunks idle too long are flushed. */
  readonly firstTick: number;
  /** No longer appended to; written by the next `flush`. */
  sealed: boolean;
}

/** What happened to one sample. */
export enum Applied {
  Accepted = 0,
  Duplicate = 1,
}

/**
 * The head of one day file: per series, the chunks in memory (the last one open, earlier ones sealed
 * and waiting to be flushed), and the end of what is already in `chunks`. Samples at or before that end
 * are stragglers and go to the file's `samples` table (inside the caller's transaction).
 */
export class DayHead {
  readonly file: ChunkDayFile;
  readonly series = new Map<number, HeadChunk[]>();
  /** Series id → end_ts of its last chunk in the file (-1: none), looked up lazily. */
  readonly #flushedEnd = new Map<number, number>();
  /** Sealed chunks, waiting for `flush`. */
  #sealed = 0;

  constructor(file: ChunkDayFile) {
    this.file = file;
  }

  get sealedCount(): number {
    return this.#sealed;
  }

  /** Adds one sample; call inside a transaction of `file` (stragglers are written through it). */
  apply(seriesId: number, ts: number, value: number, seq: number, tick: number): Applied {
    let chunks = this.series.get(seriesId);
    const open = chunks?.[chunks.length - 1];
    if (open) {
      const last = open.ts[open.ts.length - 1] as number;
      if (ts > last) {
        if (
          open.sealed ||
          open.ts.length >= MAX_CHUNK_SAMPLES ||
          ts - (open.ts[0] as number) >= MAX_CHUNK_SPAN_MS
        ) {
          if (!open.sealed) {
            open.sealed = true;
            this.#sealed++;
          }
          (chunks as HeadChunk[]).push({
            ts: [ts],
            vs: [value],
            firstSeq: seq,
            firstTick: tick,
            sealed: false,
          });
        } else {
          open.ts.push(ts);
          open.vs.push(value);
          if (seq < open.firstSeq) open.firstSeq = seq;
        }
        return Applied.Accepted;
      }
    }
    const flushedEnd = this.#lastFlushed(seriesId);
    if (ts <= flushedEnd) {
      if (this.file.chunkHas(seriesId, ts)) return Applied.Duplicate;
      return this.file.insertStraggler(seriesId, ts, value) ? Applied.Accepted : Applied.Duplicate;
    }
    if (!chunks) {
      chunks = [];
      this.series.set(seriesId, chunks);
    }
    // Inside or before the in-memory chunks: insert into the first chunk ending at or after ts.
    for (const c of chunks) {
      if ((c.ts[c.ts.length - 1] as number) >= ts) {
        const at = binarySearch(c.ts, ts);
        if (at >= 0) return Applied.Duplicate;
        c.ts.splice(-at - 1, 0, ts);
        c.vs.splice(-at - 1, 0, value);
        if (seq < c.firstSeq) c.firstSeq = seq;
        return Applied.Accepted;
      }
    }
    chunks.push({ ts: [ts], vs: [value], firstSeq: seq, firstTick: tick, sealed: false });
    return Applied.Accepted;
  }

  /** Seals every open chunk whose first sample arrived before `tick` (or every one when `tick` is Infinity). */
  sealOlderThan(tick: number): void {
    for (const chunks of this.series.values()) {
      const open = chunks[chunks.length - 1];
      if (open && open.firstTick < tick && !open.sealed) {
        open.sealed = true;
        this.#sealed++;
      }
    }
  }

  /**
   * Writes every sealed chunk into `chunks` and deletes the `wal_batches` rows no in-memory chunk needs
   * any more, in one transaction; then forgets the written chunks. On failure nothing changes in memory.
   */
  flush(): number {
    if (this.#sealed === 0) return 0;
    const writes: { id: number; chunk: HeadChunk; c: ChunkToWrite }[] = [];
    for (const [id, chunks] of this.series) {
      for (const chunk of chunks) {
        if (!chunk.sealed) continue;
        for (const c of toWrite(id, chunk)) writes.push({ id, chunk, c });
      }
    }
    const written = new Set(writes.map((w) => w.chunk));
    const forgotten = new Set<HeadChunk>();
    let minSeq = Number.POSITIVE_INFINITY;
    for (const chunks of this.series.values())
      for (const c of chunks) if (!written.has(c) && c.firstSeq < minSeq) minSeq = c.firstSeq;
    this.file.transaction(() => {
      for (const w of writes) this.file.insertChunk(w.c);
      this.file.deleteWalBelow(minSeq);
    });
    for (const w of writes) {
      if (forgotten.has(w.chunk)) continue;
      forgotten.add(w.chunk);
      const chunks = this.series.get(w.id) as HeadChunk[];
      const rest = chunks.filter((c) => c !== w.chunk);
      if (rest.length === 0) this.series.delete(w.id);
      else this.series.set(w.id, rest);
      const end = w.chunk.ts[w.chunk.ts.length - 1] as number;
      if (end > (this.#flushedEnd.get(w.id) ?? -1)) this.#flushedEnd.set(w.id, end);
    }
    this.#sealed = 0;
    return writes.length;
  }

  /** Whether nothing is in memory: the file's `wal_batches` is empty after the last flush. */
  get empty(): boolean {
    return this.series.size === 0;
  }

  /**
   * The newest timestamp the series has in the file's `chunks` or `samples` (-1: none). Every chunk
   * flushed later starts after it, which is how a reader tells the chunks it must not count twice
   * (their samples are in its head snapshot) from the ones it must read.
   */
  flushedEnd(seriesId: number): number {
    return this.#lastFlushed(seriesId);
  }

  #lastFlushed(seriesId: number): number {
    let end = this.#flushedEnd.get(seriesId);
    if (end === undefined) {
      end = this.file.lastStoredTs(seriesId);
      this.#flushedEnd.set(seriesId, end);
    }
    return end;
  }
}

/**
 * The rows to write for an in-memory chunk: usually one, more when out-of-order inserts stretched it
 * past `MAX_CHUNK_SPAN_MS` (reads rely on no chunk spanning more).
 */
function toWrite(seriesId: number, chunk: HeadChunk): ChunkToWrite[] {
  const out: ChunkToWrite[] = [];
  let from = 0;
  for (let i = 1; i <= chunk.ts.length; i++) {
    if (i === chunk.ts.length || (chunk.ts[i] as number) - (chunk.ts[from] as number) >= MAX_CHUNK_SPAN_MS) {
      out.push(piece(seriesId, chunk.ts.slice(from, i), chunk.vs.slice(from, i)));
      from = i;
    }
  }
  return out;
}

function piece(seriesId: number, ts: number[], vs: number[]): ChunkToWrite {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const v of vs) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return {
    seriesId,
    timestamps: ts,
    values: vs,
    data: encodeChunk(ts, vs),
    min,
    max,
    sum,
  };
}
