import type { Collector, ProcFs } from "@vigil/collectors";
import type { Logger, Sample } from "@vigil/common";

/** The pseudo-filesystems collectors read, each under its configured root. */
export interface FsRoots {
  readonly proc: ProcFs;
  readonly sys: ProcFs;
}

export interface ScheduledCollector {
  readonly collector: Collector;
  readonly intervalMs: number;
  /** The options the collector was created with, as JSON, so a reload can keep an unchanged instance. */
  readonly optionsKey?: string;
}

/** A collect that has not finished after this fraction of its interval is abandoned for that tick. */
const TIMEOUT_FRACTION = 0.9;

/**
 * Runs each collector on its own interval, aligned to wall-clock multiples of the interval
 * (a 10 s collector fires at :00, :10, :20 …), and stamps every sample with the scheduled tick,
 * not the moment the read finished, so series from many agents line up without jitter.
 * A slow collector never delays the others: each has its own timer, and a tick that finds the
 * previous collect of the same collector still running is skipped and logged.
 */
export class Scheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<string>();
  private readonly success = new Map<string, boolean>();
  private stopped = false;

  constructor(
    private entries: readonly ScheduledCollector[],
    private fs: FsRoots,
    private readonly sink: (samples: Sample[]) => void,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    for (const entry of this.entries) this.arm(entry);
  }

  /**
   * Swaps the collectors (a config reload): every timer is re-armed for the new list. A collect
   * still running keeps its collector marked busy, so a kept instance never runs twice at once.
   */
  update(entries: readonly ScheduledCollector[], fs: FsRoots = this.fs): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.entries = entries;
    this.fs = fs;
    const names = new Set(entries.map((e) => e.collector.name));
    for (const name of this.success.keys()) if (!names.has(name)) this.success.delete(name);
    if (!this.stopped) this.start();
  }

  /** Each collector's last outcome: true if it finished in time without throwing (`vigil_collector_success`). */
  collectorSuccess(): ReadonlyMap<string, boolean> {
    return this.success;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private isScheduled(collector: ScheduledCollector["collector"]): boolean {
    return this.entries.some((e) => e.collector === collector);
  }

  private arm(entry: ScheduledCollector, previousTick?: number): void {
    if (this.stopped) return;
    const now = this.now();
    let tick = Math.floor(now / entry.intervalMs) * entry.intervalMs + entry.intervalMs;
    // A timer can fire a millisecond or so before its tick by this clock: never schedule a tick twice.
    if (previousTick !== undefined && tick <= previousTick) tick = previousTick + entry.intervalMs;
    const timer = setTimeout(() => {
      this.arm(entry, tick);
      void this.run(entry, tick);
    }, tick - now);
    this.timers.set(entry.collector.name, timer);
  }

  private async run(entry: ScheduledCollector, tick: number): Promise<void> {
    const { collector } = entry;
    const log = this.logger.child({ collector: collector.name });
    if (this.running.has(collector.name)) {
      log.warn({ tick }, "previous collect still running; skipped this tick");
      return;
    }
    this.running.add(collector.name);
    let timeout: NodeJS.Timeout | undefined;
    // An abandoned collect still runs: the collector counts as running until it really finishes,
    // so the next tick is skipped rather than overlapping it (collectors keep state between reads).
    const collecting = Promise.resolve()
      .then(() => collector.collect({ now: tick, proc: this.fs.proc, sys: this.fs.sys, logger: log }))
      .finally(() => this.running.delete(collector.name));
    try {
      const limitMs = Math.max(50, entry.intervalMs * TIMEOUT_FRACTION);
      const samples = await Promise.race([
        collecting,
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`collect took longer than ${limitMs} ms`)), limitMs);
        }),
      ]);
      if (this.isScheduled(collector)) this.success.set(collector.name, true);
      if (!this.stopped) this.sink(samples);
    } catch (err) {
      if (this.isScheduled(collector)) this.success.set(collector.name, false);
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "collect failed");
    } finally {
      clearTimeout(timeout);
    }
  }
}
