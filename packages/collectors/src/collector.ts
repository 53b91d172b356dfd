import type { Logger, MetricDescriptor, Sample } from "@vigil/common";
import type { ProcFs } from "./procfs.js";

/** What a collector gets on every tick. Time and the filesystem root are passed in, never read deep inside. */
export interface CollectContext {
  /** The tick's timestamp, Unix milliseconds, aligned to the collector's interval: every sample of the tick carries it. */
  readonly now: number;
  /** Reader for /proc under a configurable root (real `/proc`, or a recorded fixture tree in tests). */
  readonly proc: ProcFs;
  /** Logger tagged `collector=<name>`. */
  readonly logger: Logger;
}

/**
 * One family of metrics. An instance is stateful: it keeps the previous reading it needs for rates,
 * so the first `collect()` of a rate emits no rate sample. `collect()` never throws for bad or missing
 * input: it logs one warning and returns what it could read.
 */
export interface Collector {
  readonly name: string;
  readonly metrics: readonly MetricDescriptor[];
  collect(ctx: CollectContext): Promise<Sample[]>;
}

/** Collector-specific options from the agent config's `[collectors.<name>]` section (besides enabled/interval). */
export type CollectorOptions = Readonly<Record<string, unknown>>;

export interface CollectorRegistration {
  readonly name: string;
  /** Runs unless the config says `enabled = false`. */
  readonly defaultEnabled: boolean;
  readonly defaultIntervalMs: number;
  readonly create: (options: CollectorOptions) => Collector;
}
