import * as z from "zod";
import type { Collector, CollectorRegistration } from "./collector.js";

/** The options schema of a collector that takes none. */
export const NO_OPTIONS = z.strictObject({});

/**
 * Declares a built-in collector. `options` is a zod strict object of its config keys (with defaults);
 * `create` receives that schema's output, typed.
 */
export function defineCollector<S extends z.ZodObject>(def: {
  readonly name: string;
  readonly defaultEnabled: boolean;
  readonly defaultIntervalMs: number;
  readonly options: S;
  readonly create: (options: z.output<S>) => Collector;
}): CollectorRegistration {
  return {
    name: def.name,
    defaultEnabled: def.defaultEnabled,
    defaultIntervalMs: def.defaultIntervalMs,
    options: def.options,
    create: (options) => def.create(options as z.output<S>),
  };
}

/** The options a collector runs with when its config section sets none. */
export function defaultOptions(registration: CollectorRegistration): Readonly<Record<string, unknown>> {
  return registration.options.parse({}) as Readonly<Record<string, unknown>>;
}
