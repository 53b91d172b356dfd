import { builtinCollectors, type CollectorRegistration } from "@vigil/collectors";
import type { AgentConfig } from "./config.js";
import type { ScheduledCollector } from "./scheduler.js";

/** Names of every registered collector (for config validation). */
export function knownCollectorNames(): string[] {
  return builtinCollectors().map((r) => r.name);
}

/** Instantiates the collectors the config enables, each with its interval. */
export function enabledCollectors(config: Pick<AgentConfig, "collectors">): ScheduledCollector[] {
  return builtinCollectors()
    .filter((r: CollectorRegistration) => config.collectors[r.name]?.enabled ?? r.defaultEnabled)
    .map((r) => ({
      collector: r.create({}),
      intervalMs: config.collectors[r.name]?.intervalMs ?? r.defaultIntervalMs,
    }));
}
