import type { Labels } from "@vigil/common";
import type { AlertEvent, ResolveReason } from "./alert-event.js";
import { AlertEngine } from "./engine.js";
import type { Rule } from "./rule.js";

/** One stored sample, as a backtest replays it. */
export interface BacktestSample {
  readonly agent: string;
  readonly metric: string;
  readonly labels: Labels;
  /** Unix ms. */
  readonly ts: number;
  readonly value: number;
}

export interface BacktestOptions {
  /** Replay start (Unix ms): the engine starts here. */
  readonly fromMs: number;
  /** Replay end (Unix ms): the clock is ticked up to here after the last sample. */
  readonly toMs: number;
  /** How often the engine is ticked between samples, like the server's ticker. Default 1000. */
  readonly evalIntervalMs?: number;
  /** Default: the engine's (5 min). */
  readonly staleAfterMs?: number;
}

/** One firing episode the rule would have produced. */
export interface BacktestEpisode {
  readonly fingerprint: string;
  readonly agent: string;
  readonly labels: Labels;
  /** When the condition became true (pending). */
  readonly activeAt: number;
  readonly firedAt: number;
  /** The kind's value when it fired. */
  readonly firedValue: number;
  /** Undefined: still firing at `toMs`. */
  readonly resolvedAt: number | undefined;
  readonly resolveReason: ResolveReason | undefined;
  /** Reminders that would have been sent (`repeat_interval`). */
  readonly repeats: number;
}

export interface BacktestResult {
  readonly episodes: BacktestEpisode[];
  readonly samples: number;
}

/**
 * Replays samples through one rule in a fresh engine with the live engine's semantics (windows, `for`,
 * `keep_firing_for`, repeats, staleness), using the samples' timestamps as the clock: each sample is
 * ingested at its own time and the engine is ticked every `evalIntervalMs` in between, as the server's
 * ticker does. `samples` must come in timestamp order (across all series); an earlier one is an error.
 * Pure: no I/O, no clock. `offline` rules need agent sightings rather than samples and are refused.
 */
export function backtest(
  rule: Rule,
  samples: Iterable<BacktestSample>,
  opts: BacktestOptions,
): BacktestResult {
  const run = new Backtest(rule, opts);
  for (const s of samples) run.add(s);
  return run.finish();
}

interface OpenEpisode {
  readonly episode: Omit<BacktestEpisode, "resolvedAt" | "resolveReason" | "repeats">;
  repeats: number;
}

/** `backtest` fed piece by piece, for callers that read samples in slices (the CLI, from storage). */
export class Backtest {
  private readonly engine: AlertEngine;
  private readonly interval: number;
  private readonly opts: BacktestOptions;
  private readonly open = new Map<string, OpenEpisode>();
  private readonly episodes: BacktestEpisode[] = [];
  private nextTick: number;
  private lastTs = Number.NEGATIVE_INFINITY;
  private count = 0;

  constructor(rule: Rule, opts: BacktestOptions) {
    if (rule.kind === "offline") {
      throw new Error(
        `rule "${rule.name}": offline rules cannot be backtested (they need agent sightings, not samples)`,
      );
    }
    const interval = opts.evalIntervalMs ?? 1000;
    if (!Number.isInteger(interval) || interval <= 0)
      throw new Error(`evalIntervalMs must be a positive integer, not ${interval}`);
    if (!(opts.toMs >= opts.fromMs))
      throw new Error(`backtest range is empty: to ${opts.toMs} is before from ${opts.fromMs}`);
    this.interval = interval;
    this.opts = opts;
    this.nextTick = opts.fromMs;
    this.engine = new AlertEngine({
      sink: { emit: (e) => this.event(e) },
      now: opts.fromMs,
      offlineGraceMs: 0,
      ...(opts.staleAfterMs !== undefined ? { staleAfterMs: opts.staleAfterMs } : {}),
    });
    this.engine.setRules([rule], opts.fromMs);
  }

  /** One sample, not earlier than the previous one; samples outside [fromMs, toMs] are skipped. */
  add(s: BacktestSample): void {
    if (s.ts < this.lastTs) throw new Error(`backtest samples out of order: ${s.ts} after ${this.lastTs}`);
    if (s.ts < this.opts.fromMs || s.ts > this.opts.toMs) return;
    this.lastTs = s.ts;
    for (; this.nextTick <= s.ts; this.nextTick += this.interval) this.engine.tick(this.nextTick);
    this.engine.ingest(
      s.agent,
      [{ metric: s.metric, labels: s.labels, timestamps: [s.ts], values: [s.value] }],
      s.ts,
    );
    this.count++;
  }

  /** Ticks to `toMs` and returns the episodes by firing time (still firing ones have no `resolvedAt`). */
  finish(): BacktestResult {
    for (; this.nextTick <= this.opts.toMs; this.nextTick += this.interval) this.engine.tick(this.nextTick);
    const episodes = [...this.episodes];
    for (const o of this.open.values())
      episodes.push({ ...o.episode, resolvedAt: undefined, resolveReason: undefined, repeats: o.repeats });
    episodes.sort((a, b) => a.firedAt - b.firedAt || a.fingerprint.localeCompare(b.fingerprint));
    return { episodes, samples: this.count };
  }

  private event(e: AlertEvent): void {
    if (e.type === "firing") {
      this.open.set(e.fingerprint, {
        episode: {
          fingerprint: e.fingerprint,
          agent: e.agent,
          labels: e.labels,
          activeAt: e.activeAt,
          firedAt: e.firedAt,
          firedValue: e.value,
        },
        repeats: 0,
      });
      return;
    }
    const o = this.open.get(e.fingerprint);
    if (!o) return;
    if (e.type === "repeat") {
      o.repeats++;
      return;
    }
    this.open.delete(e.fingerprint);
    this.episodes.push({
      ...o.episode,
      resolvedAt: e.at,
      resolveReason: e.resolveReason,
      repeats: o.repeats,
    });
  }
}
