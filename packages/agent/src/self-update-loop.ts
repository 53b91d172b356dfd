import type { Logger } from "@vigil/common";
import type { UpdateOutcome } from "./self-update.js";

/** The first check comes at a random point within this (or the interval, if shorter) after start. */
export const FIRST_CHECK_SPREAD_MS = 3_600_000;

/**
 * Exit status of an agent that replaced its bundle: the systemd unit restarts on it
 * (`RestartForceExitStatus=75`, deploy/systemd/vigil-agent.service) and counts it as success
 * (`SuccessExitStatus=75`). 75 is `EX_TEMPFAIL` of sysexits.h: "try again".
 */
export const EXIT_UPDATED = 75;

export interface SelfUpdateLoopOptions {
  readonly intervalMs: number;
  /** One check (`checkForUpdate` bound to its settings). */
  readonly check: () => Promise<UpdateOutcome>;
  /** In [0, 1): places the first check, so a fleet restarted together does not ask all at once. */
  readonly random: () => number;
  /** Called once, after a check replaced the bundle; the loop has stopped by then. */
  readonly onUpdated: (outcome: Extract<UpdateOutcome, { kind: "updated" }>) => void;
  readonly logger: Logger;
}

/**
 * Runs `check` at a random point in the first `min(interval, FIRST_CHECK_SPREAD_MS)`, then every
 * `intervalMs` (never two at once), until a check updates the bundle or `stop()` is called.
 */
export function startSelfUpdateLoop(opts: SelfUpdateLoopOptions): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => void run(), delayMs);
    // Never keeps the process alive on its own: stopping the agent must not wait a day.
    timer.unref();
  };
  const run = async () => {
    const outcome = await opts.check();
    if (stopped) return;
    if (outcome.kind === "updated") {
      stopped = true;
      opts.onUpdated(outcome);
      return;
    }
    schedule(opts.intervalMs);
  };
  const firstDelayMs = Math.floor(opts.random() * Math.min(opts.intervalMs, FIRST_CHECK_SPREAD_MS));
  opts.logger.info({ intervalMs: opts.intervalMs, firstCheckInMs: firstDelayMs }, "self-update enabled");
  schedule(firstDelayMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
