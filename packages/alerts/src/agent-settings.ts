/** Why an agent's offline alerts are suppressed now. */
export type OfflineSuppression = "maintenance" | "expected_offline";

/** One maintenance window, [startMs, endMs). */
export interface MaintenanceWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Per-agent alerting settings (`[agents."ID"]` in the server config). */
export interface AgentSettings {
  /** The machine powers down by design: its silence is never an offline alert. */
  readonly expectedOffline: boolean;
  readonly maintenance: readonly MaintenanceWindow[];
}

/**
 * Whether `settings` suppress offline alerts at `now`, and why. `expected_offline` wins over a window,
 * since it holds at every time.
 */
export function offlineSuppression(
  settings: AgentSettings | undefined,
  now: number,
): OfflineSuppression | undefined {
  if (!settings) return undefined;
  if (settings.expectedOffline) return "expected_offline";
  for (const w of settings.maintenance) if (now >= w.startMs && now < w.endMs) return "maintenance";
  return undefined;
}
