import type { Severity } from "./rule.js";

export type HostStatus = "healthy" | "warning" | "down";

/** One agent's health, as `GET /agents` and the live feed show it. */
export interface HostHealth {
  readonly agent: string;
  readonly status: HostStatus;
  /** Engine time of the last sighting (hello, batch or heartbeat); undefined when never seen. */
  readonly lastSeenAt: number | undefined;
  /** Firing alerts on this agent by severity (offline alerts included). */
  readonly firing: Readonly<Record<Severity, number>>;
  /** Why the status is what it is, for people: `offline alert "HostDown" firing`, `silent for 6m`. */
  readonly reason: string;
}

/**
 * Health from what the engine knows: `down` when an offline alert fires for the agent or it has been
 * silent for `downAfterMs` (counted from when silence counts, grace periods applied); `warning` when a
 * warning or critical alert fires on it; `healthy` otherwise. Info alerts do not change health.
 */
export function hostStatus(opts: {
  readonly offlineFiring: string | undefined;
  readonly silentMs: number;
  readonly downAfterMs: number;
  readonly firing: Readonly<Record<Severity, number>>;
}): { status: HostStatus; reason: string } {
  if (opts.offlineFiring !== undefined) {
    return { status: "down", reason: `offline alert ${JSON.stringify(opts.offlineFiring)} firing` };
  }
  if (opts.silentMs >= opts.downAfterMs) {
    return { status: "down", reason: `silent for ${Math.round(opts.silentMs / 1000)}s` };
  }
  const serious = opts.firing.warning + opts.firing.critical;
  if (serious > 0) {
    return {
      status: "warning",
      reason: `${opts.firing.critical} critical and ${opts.firing.warning} warning alerts firing`,
    };
  }
  return { status: "healthy", reason: "no warning or critical alert firing" };
}
