import { builtinCollectors } from "@vigil/collectors";
import type { AgentConfig } from "./config.js";
import type { ScheduledCollector } from "./scheduler.js";

/** Names of every built-in collector. */
export function knownCollectorNames(): string[] {
  return builtinCollectors().map((r) => r.name);
}

/**
 * Instantiates the collectors the config enables, each with its interval and options, from the
 * config's registrations (the built-ins and its plugins), in registration order. On a reload,
 * `previous` entries whose collector has the same name and options are kept, instance and all,
 * so their rate state survives; only the interval is taken from the new config.
 */
export function enabledCollectors(
  config: Pick<AgentConfig, "collectors" | "registrations">,
  previous: readonly ScheduledCollector[] = [],
): ScheduledCollector[] {
  return config.registrations
    .filter((r) => config.collectors[r.name]?.enabled ?? r.defaultEnabled)
    .map((r) => {
      const settings = config.collectors[r.name];
      const options = settings?.options ?? r.options.parse({});
      const optionsKey = JSON.stringify(options);
      const kept = previous.find((p) => p.collector.name === r.name && p.optionsKey === optionsKey);
      return {
        collector: kept?.collector ?? r.create(options),
        intervalMs: settings?.intervalMs ?? r.defaultIntervalMs,
        optionsKey,
      };
    });
}
