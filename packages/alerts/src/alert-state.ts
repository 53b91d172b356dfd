/**
 * The alert state machine of one (rule, series), with Prometheus semantics:
 *
 *   inactive ──true──▶ pending ──true, held `for`──▶ firing ──false (after `keep_firing_for`)──▶ resolved
 *                         │                             │ ▲                                          │
 *                         └──false──▶ inactive          └─┘ true, `repeat_interval` since last sent  └──true──▶ pending
 *
 * - A condition that becomes true makes the alert pending with `activeAt = now`; it fires at the first
 *   evaluation where `now - activeAt >= for` (at once when `for` is 0). A false evaluation while pending
 *   drops it back to inactive without a notification.
 * - While firing, a false evaluation starts `keep_firing_for`: the alert keeps firing until an
 *   evaluation at least that long after the first false one, and a true evaluation in between cancels
 *   it (Prometheus' `KeepFiringSince`).
 * - While firing, `repeat` is due once `repeat_interval` has passed since the last notification.
 * Every function takes `now`; nothing here reads a clock.
 */

export type AlertStateName = "inactive" | "pending" | "firing" | "resolved";

/** What a step asks the engine to notify: a state change worth a message, or a reminder. */
export type AlertEventType = "firing" | "resolved" | "repeat";

/** Per-(rule, series) alert state; mutable, owned by the engine. */
export interface AlertState {
  state: AlertStateName;
  /** When the current pending/firing episode began (ms); 0 when inactive. */
  activeAt: number;
  /** When it started firing (ms); 0 when it has not. */
  firedAt: number;
  /** When the last firing/repeat notification was sent (ms). */
  lastSentAt: number;
  /** When it resolved (ms); 0 while not resolved. */
  resolvedAt: number;
  /** First false evaluation while firing, for `keep_firing_for`; NaN when none. */
  keepFiringSince: number;
  /** The value of the last true evaluation (the kind's `$value`). */
  value: number;
  /** The last evaluation's outcome, reused by time-driven steps (`tick`) until new data arrives. */
  lastActive: boolean;
}

/** The durations that drive transitions (a rule's `for`, `keep_firing_for`, `repeat_interval`). */
export interface AlertTiming {
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly repeatIntervalMs: number;
}

export function newAlertState(): AlertState {
  return {
    state: "inactive",
    activeAt: 0,
    firedAt: 0,
    lastSentAt: 0,
    resolvedAt: 0,
    keepFiringSince: Number.NaN,
    value: Number.NaN,
    lastActive: false,
  };
}

/**
 * Advances `s` by one evaluation at `now` whose condition is `active` (with the kind's `value`).
 * Returns the event to notify, if any. Entering pending is reported through `s.state` only.
 */
export function stepAlert(
  s: AlertState,
  active: boolean,
  value: number,
  now: number,
  timing: AlertTiming,
): AlertEventType | undefined {
  s.lastActive = active;
  if (active) {
    s.value = value;
    s.keepFiringSince = Number.NaN;
    if (s.state === "inactive" || s.state === "resolved") {
      s.state = "pending";
      s.activeAt = now;
      s.firedAt = 0;
      s.resolvedAt = 0;
    }
    if (s.state === "pending") {
      if (now - s.activeAt >= timing.forMs) {
        s.state = "firing";
        s.firedAt = now;
        s.lastSentAt = now;
        return "firing";
      }
      return undefined;
    }
    return repeatDue(s, now, timing);
  }
  switch (s.state) {
    case "pending":
      s.state = "inactive";
      s.activeAt = 0;
      return undefined;
    case "firing":
      if (timing.keepFiringForMs > 0) {
        if (Number.isNaN(s.keepFiringSince)) s.keepFiringSince = now;
        if (now - s.keepFiringSince < timing.keepFiringForMs) return repeatDue(s, now, timing);
      }
      s.state = "resolved";
      s.resolvedAt = now;
      s.keepFiringSince = Number.NaN;
      return "resolved";
    default:
      return undefined;
  }
}

/**
 * Resolves a firing alert at once (its series went stale, or its rule was removed); a pending one
 * goes inactive. Returns "resolved" when a firing alert ended.
 */
export function forceResolve(s: AlertState, now: number): AlertEventType | undefined {
  s.lastActive = false;
  if (s.state === "firing") {
    s.state = "resolved";
    s.resolvedAt = now;
    s.keepFiringSince = Number.NaN;
    return "resolved";
  }
  if (s.state === "pending") {
    s.state = "inactive";
    s.activeAt = 0;
  }
  return undefined;
}

function repeatDue(s: AlertState, now: number, timing: AlertTiming): AlertEventType | undefined {
  if (now - s.lastSentAt >= timing.repeatIntervalMs) {
    s.lastSentAt = now;
    return "repeat";
  }
  return undefined;
}
