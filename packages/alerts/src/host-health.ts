import type { OfflineSuppression } from "./agent-settings.js";
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
  /** Set while the agent's offline alerts are suppressed (a maintenance window, or expected offline). */
  readonly suppressed: OfflineSuppression | undefined;
}

/**
 * Health from what the engine knows: `down` when an offline alert fires for the agent or it has been
 * silent for `downAfterMs` (counted from when silence counts, grace periods applied); `warning` when a
 * warning or critical alert fires on it; `healthy` otherwise. Info alerts do not change health.
 * While `suppressed` (maintenance, expected offline) silence does not make it `down`: the reason says so.
 */
export function hostStatus(opts: {
  readonly offlineFiring: string | undefined;
  readonly silentMs: number;
  readonly downAfterMs: number;
  readonly firing: Readonly<Record<Severity, number>>;
  readonly suppressed?: OfflineSuppression | undefined;
}): { status: HostStatus; reason: string } {
  if (opts.offlineFiring !== undefined) {
    return { status: "down", reason: `offline alert ${JSON.stringify(opts.offlineFiring)} firing` };
  }
  const silent = opts.silentMs >= opts.downAfterMs;
  if (silent && opts.suppressed !== undefined) {
    const why = opts.suppressed === "maintenance" ? "in a maintenance window" : "expected offline";
    const rest = hostStatus({ ...opts, silentMs: Number.NEGATIVE_INFINITY, suppressed: undefined });
    return {
      status: rest.status,
      reason: `silent for ${Math.round(opts.silentMs / 1000)}s, ${why}; ${rest.reason}`,
    };
  }
  if (silent) {
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
