import { describe, expect, it } from "vitest";
import {
  type AlertEventType,
  type AlertTiming,
  forceResolve,
  newAlertState,
  stepAlert,
} from "./alert-state.js";

/** Runs a condition sequence at 1 s steps; returns "t:event" and the states. */
function run(conditions: string, timing: AlertTiming): { events: string[]; states: string[] } {
  const s = newAlertState();
  const events: string[] = [];
  const states: string[] = [];
  [...conditions].forEach((c, i) => {
    const now = i * 1000;
    const e: AlertEventType | undefined = stepAlert(s, c === "1", i, now, timing);
    if (e) events.push(`${i}:${e}`);
    states.push(s.state[0] as string);
  });
  return { events, states };
}

const T = (forS: number, keepS = 0, repeatS = 3600): AlertTiming => ({
  forMs: forS * 1000,
  keepFiringForMs: keepS * 1000,
  repeatIntervalMs: repeatS * 1000,
});

describe("stepAlert", () => {
  it("fires at once with for = 0 and resolves on the first false evaluation", () => {
    expect(run("0110", T(0))).toEqual({ events: ["1:firing", "3:resolved"], states: ["i", "f", "f", "r"] });
  });

  it("fires at the first evaluation with now - activeAt >= for", () => {
    // Pending at 1 s; for = 3 s: fires at 4 s.
    expect(run("011111", T(3)).events).toEqual(["4:firing"]);
  });

  it("drops a pending alert that goes false, without an event, and restarts the clock", () => {
    expect(run("0110111", T(2))).toEqual({
      events: ["6:firing"],
      states: ["i", "p", "p", "i", "p", "p", "f"],
    });
  });

  it("keeps firing for keep_firing_for after the first false evaluation", () => {
    // Firing at 0; false from 2 s; keep 3 s: resolves at 5 s.
    expect(run("11000000", T(0, 3)).events).toEqual(["0:firing", "5:resolved"]);
    // A true evaluation inside keep_firing_for cancels it.
    expect(run("1100100000", T(0, 3)).events).toEqual(["0:firing", "8:resolved"]);
  });

  it("repeats every repeat_interval while firing, counted from the last notification", () => {
    expect(run("1111111", T(0, 0, 2)).events).toEqual(["0:firing", "2:repeat", "4:repeat", "6:repeat"]);
  });

  it("starts a new episode after resolving", () => {
    expect(run("1010", T(0)).events).toEqual(["0:firing", "1:resolved", "2:firing", "3:resolved"]);
  });

  it("forceResolve ends a firing alert and drops a pending one", () => {
    const s = newAlertState();
    stepAlert(s, true, 1, 0, T(0));
    expect(forceResolve(s, 5)).toBe("resolved");
    expect(s).toMatchObject({ state: "resolved", resolvedAt: 5 });
    const p = newAlertState();
    stepAlert(p, true, 1, 0, T(10));
    expect(forceResolve(p, 5)).toBeUndefined();
    expect(p.state).toBe("inactive");
  });
});
