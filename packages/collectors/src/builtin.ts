import type { CollectorRegistration } from "./collector.js";
import { createCpuCollector } from "./cpu.js";
import { defineCollector, NO_OPTIONS } from "./define-collector.js";
import { createMemoryCollector } from "./memory.js";

/** Interval of the built-in collectors unless the agent config sets `[collectors.NAME] interval`. */
export const DEFAULT_COLLECTOR_INTERVAL_MS = 10_000;

/**
 * Every built-in collector, in a fixed order. An explicit list on purpose: importing a collector
 * module registers nothing, so what runs is what this function returns.
 */
export function builtinCollectors(): readonly CollectorRegistration[] {
  return [
    defineCollector({
      name: "cpu",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createCpuCollector(),
    }),
    defineCollector({
      name: "memory",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createMemoryCollector(),
    }),
  ];
}
