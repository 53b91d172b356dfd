import { groupBySeries, type Sample, type SeriesSamples } from "@vigil/common";
import type { BatchSpool, SpooledBatch } from "./spool.js";

/** A sealed batch waiting for its ack. */
export interface QueuedBatch {
  readonly seq: number;
  readonly series: readonly SeriesSamples[];
  readonly samples: number;
  /** Sent on the current stream and not yet acked. Cleared on reconnect so it is sent again. */
  inFlight: boolean;
}

export interface QueueStats {
  /** Samples handed to the queue. */
  readonly collected: number;
  /** Samples the server acknowledged. */
  readonly acked: number;
  /** Samples thrown away because the queue was full (oldest first). */
  readonly dropped: number;
  /** Samples in batches the server refused as invalid (resending cannot help). */
  readonly rejected: number;
  /** Samples held now, sealed or not. */
  readonly held: number;
}

/**
 * The agent's bounded buffer: collected samples wait here until the server acks them.
 * Bounded by sample count; when full, the OLDEST data is dropped and counted, so a long outage
 * costs the start of the outage, never memory without bound (batches already sent and awaiting an
 * ack are dropped last, see `dropOldestSealed`). Every sample ends exactly one way:
 * acked, dropped, rejected, or still held (`collected = acked + dropped + rejected + held`).
 *
 * With a spool, every sealed batch is also written to disk until it leaves the queue, and the
 * spool's byte limit is a second bound: over it, the oldest batches are dropped (memory and disk)
 * and counted in `dropped`. Batches restored from the spool on start count as collected.
 */
export class BatchQueue {
  private open: Sample[] = [];
  private readonly sealed: QueuedBatch[] = [];
  private nextSeq = 1;
  private heldSamples = 0;
  private counts = { collected: 0, acked: 0, dropped: 0, rejected: 0 };
  /** Batches written to a stream at least once, to tell a resend from a first send. */
  private readonly sentOnce = new WeakSet<QueuedBatch>();
  private resent = 0;

  constructor(
    private maxSamples: number,
    private batchMaxSamples: number,
    private readonly spool?: BatchSpool,
  ) {}

  /**
   * Puts batches read back from the spool at the head of the queue (oldest first), to be sent
   * before anything new; new batches are numbered after the highest restored seq. Call before `add`.
   */
  restore(batches: readonly SpooledBatch[]): void {
    const sorted = [...batches].sort((a, b) => a.seq - b.seq);
    for (const b of sorted) {
      this.sealed.push({ seq: b.seq, series: b.series, samples: b.samples, inFlight: false });
      this.counts.collected += b.samples;
      this.heldSamples += b.samples;
      if (b.seq >= this.nextSeq) this.nextSeq = b.seq + 1;
    }
    this.sealed.sort((a, b) => a.seq - b.seq);
    this.enforceBound();
  }

  /** Changes the bounds (a config reload); a smaller `maxSamples` drops the oldest held data at once. */
  setLimits(maxSamples: number, batchMaxSamples: number): void {
    this.maxSamples = maxSamples;
    this.batchMaxSamples = batchMaxSamples;
    this.enforceBound();
  }

  /** The stream client wrote this batch: it is in flight, and counted as resent if it was sent before. */
  markSent(batch: QueuedBatch): void {
    batch.inFlight = true;
    if (this.sentOnce.has(batch)) this.resent++;
    else this.sentOnce.add(batch);
  }

  /** Batches sent more than once (after a reconnect, or a server-side failure to store them). */
  get resentBatches(): number {
    return this.resent;
  }

  /** Adds a tick's samples, dropping the oldest held data if the bound is passed. */
  add(samples: readonly Sample[]): void {
    for (const s of samples) this.open.push(s);
    this.counts.collected += samples.length;
    this.heldSamples += samples.length;
    this.enforceBound();
  }

  /** Turns the open samples into batches of at most `batchMaxSamples`. Returns how many were sealed. */
  seal(): number {
    let made = 0;
    while (this.open.length > 0) {
      const part =
        this.open.length <= this.batchMaxSamples ? this.open : this.open.slice(0, this.batchMaxSamples);
      this.open = part === this.open ? [] : this.open.slice(this.batchMaxSamples);
      const batch: QueuedBatch = {
        seq: this.nextSeq++,
        series: groupBySeries(part),
        samples: part.length,
        inFlight: false,
      };
      this.sealed.push(batch);
      this.spool?.write(batch.seq, batch.series);
      made++;
    }
    if (made > 0) this.enforceBound();
    return made;
  }

  /** Samples not yet sealed; the client seals early once a full batch is waiting. */
  get openSamples(): number {
    return this.open.length;
  }

  /** Sealed batches not in flight, oldest first, at most `limit`. */
  takeUnsent(limit: number): QueuedBatch[] {
    const out: QueuedBatch[] = [];
    for (const b of this.sealed) {
      if (out.length >= limit) break;
      if (!b.inFlight) out.push(b);
    }
    return out;
  }

  get inFlightCount(): number {
    let n = 0;
    for (const b of this.sealed) if (b.inFlight) n++;
    return n;
  }

  /** The server stored this batch. Unknown seqs (already dropped) are ignored. Returns the samples acked. */
  ack(seq: number): number {
    return this.remove(seq, "acked");
  }

  /** The server refused this batch for good. Returns the samples rejected. */
  reject(seq: number): number {
    return this.remove(seq, "rejected");
  }

  /** The server could not store this batch now; send it again later. */
  retryLater(seq: number): void {
    const b = this.sealed.find((x) => x.seq === seq);
    if (b) b.inFlight = false;
  }

  /** The stream broke: everything in flight must be sent again on the next stream. */
  requeueInFlight(): void {
    for (const b of this.sealed) b.inFlight = false;
  }

  get isEmpty(): boolean {
    return this.heldSamples === 0;
  }

  stats(): QueueStats {
    return { ...this.counts, held: this.heldSamples };
  }

  private remove(seq: number, outcome: "acked" | "rejected"): number {
    const i = this.sealed.findIndex((b) => b.seq === seq);
    if (i < 0) return 0;
    const [b] = this.sealed.splice(i, 1);
    const n = (b as QueuedBatch).samples;
    this.spool?.remove(seq);
    this.counts[outcome] += n;
    this.heldSamples -= n;
    return n;
  }

  private enforceBound(): void {
    // The spool's byte limit: drop the oldest sealed batches until the files fit.
    while (this.spool && this.spool.bytes > this.spool.maxBytes && this.sealed.length > 0)
      this.dropOldestSealed();
    while (this.heldSamples > this.maxSamples) {
      if (this.sealed.length > 0) {
        this.dropOldestSealed();
      } else {
        const excess = this.heldSamples - this.maxSamples;
        this.open = this.open.slice(excess);
        this.counts.dropped += excess;
        this.heldSamples -= excess;
      }
    }
  }

  /**
   * Drops the oldest sealed batch never written to a stream. Batches already sent and awaiting an
   * ack are kept while there is another to drop: the server may have stored them (an ack lost with
   * a broken connection), and dropping them would count as dropped samples the server has, so
   * `dropped` would no longer equal exactly what is missing on the server.
   */
  private dropOldestSealed(): void {
    let i = this.sealed.findIndex((b) => !this.sentOnce.has(b));
    if (i < 0) i = 0;
    const [oldest] = this.sealed.splice(i, 1);
    if (!oldest) return;
    this.spool?.remove(oldest.seq);
    this.counts.dropped += oldest.samples;
    this.heldSamples -= oldest.samples;
  }
}
