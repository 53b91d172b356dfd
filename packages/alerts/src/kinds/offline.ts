import type { OfflineRule } from "../rule.js";

/**
 * `offline`: the agent has not been seen for the rule's timeout. `silentSinceMs` is when the agent's
 * silence counts from: its last sighting, moved forward by the engine's grace periods (after the engine
 * starts and after the agent is first seen). Returns the seconds of silence while the condition holds,
 * NaN otherwise.
 */
export function evaluateOffline(rule: OfflineRule, silentSinceMs: number, now: number): number {
  const silentMs = now - silentSinceMs;
  return silentMs >= rule.timeoutMs ? silentMs / 1000 : Number.NaN;
}
