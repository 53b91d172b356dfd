import { builtinCollectors } from "@vigil/collectors";
import type { AgentConfig } from "./config.js";
import type { ScheduledCollector } from "./scheduler.js";

/** Names of every registered collector. */
export function knownCollectorNames(): string[] {
  return builtinCollectors().map((r) => r.name);
}

/** Instantiates the collectors the config enables, each with its interval and options. */
export function enabledCollectors(config: Pick<AgentConfig, "collectors">): ScheduledCollector[] {
  return builtinCollectors()
    .filter((r) => config.collectors[r.name]?.enabled ?? r.defaultEnabled)
    .map((r) => {
      const settings = config.collectors[r.name];
      return {
        collector: r.create(settings?.options ?? r.options.parse({})),
        intervalMs: settings?.intervalMs ?? r.defaultIntervalMs,
      };
    });
}
