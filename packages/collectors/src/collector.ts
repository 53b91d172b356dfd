import type { Logger, MetricDescriptor, Sample } from "@vigil/common";
import type * as z from "zod";
import type { ProcFs } from "./procfs.js";

/** What a collector gets on every tick. Time and the filesystem root are passed in, never read deep inside. */
export interface CollectContext {
  /** The tick's timestamp, Unix milliseconds, aligned to the collector's interval: every sample of the tick carries it. */
  readonly now: number;
  /** Reader for /proc under a configurable root (real `/proc`, or a recorded fixture tree in tests). */
  readonly proc: ProcFs;
  /** Reader for /sys under a configurable root (same class; it opens files fresh unless the root is a procfs). */
  readonly sys: ProcFs;
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

/** A collector's options schema: a zod strict object whose keys are the `[collectors.<name>]` keys besides enabled/interval, each with a default. */
export type CollectorOptionsSchema = z.ZodObject;

/** Collector-specific options after validation (the schema's output). */
export type CollectorOptions = Readonly<Record<string, unknown>>;

/**
 * How the agent finds, configures and creates a collector. Build one with `defineCollector`, which
 * ties `create`'s parameter type to the options schema.
 */
export interface CollectorRegistration {
  readonly name: string;
  /** Runs unless the config says `enabled = false`. */
  readonly defaultEnabled: boolean;
  readonly defaultIntervalMs: number;
  /** Validates the `[collectors.<name>]` keys besides `enabled` and `interval`; the agent's config loader merges it in, so errors name file, line and key. */
  readonly options: CollectorOptionsSchema;
  /** `options` is the schema's output (defaults applied). */
  readonly create: (options: CollectorOptions) => Collector;
}
