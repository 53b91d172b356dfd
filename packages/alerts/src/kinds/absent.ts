import type { AbsentRule } from "../rule.js";

/**
 * `absent`: a series that was reporting has had no sample for the timeout, while its agent has been
 * seen within the timeout (when the whole agent is silent that is `offline`'s business, not one alert
 * per series). Times are the engine's arrival times, not the agents' clocks. Returns the seconds since
 * the series' last sample while the condition holds, NaN otherwise.
 */
export function evaluateAbsent(
  rule: AbsentRule,
  lastArrivalMs: number,
  agentLastSeenMs: number,
  now: number,
): number {
  const silentMs = now - lastArrivalMs;
  if (silentMs < rule.timeoutMs) return Number.NaN;
  if (now - agentLastSeenMs >= rule.timeoutMs) return Number.NaN;
  return silentMs / 1000;
}
