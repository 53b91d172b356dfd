import { describe, expect, it } from "vitest";
import { cleanupAfterEach } from "./harness.js";
import { runOutage } from "./outage-run.js";

/** The size: the agent at a 1 s interval, the server gone for 60 s. */
const INTERVAL_MS = 1_000;
const OUTAGE_MS = 60_000;

describe("60 s server outage while the agent runs at 1 s", () => {
  const cleanups = cleanupAfterEach();

  it("stores every sample of the outage exactly once when the ring is large enough", async () => {
    const { final, ticks, stored, killedAt, restartedAt } = await runOutage({
      agentId: "outage-60s",
      maxSamples: undefined,
      intervalMs: INTERVAL_MS,
      outageMs: OUTAGE_MS,
      afterMs: 2_000,
      cleanup: cleanups.push,
    });
    expect(final.reconnects).toBeGreaterThanOrEqual(1);
    expect(final.dropped).toBe(0);
    expect(final.held).toBe(0);
    expect(final.acked).toBe(final.collected);
    expect(stored).toBe(final.collected);
    // Every 1 s tick from before the outage to after the restart is there, once.
    const first = ticks[0] as number;
    const last = ticks[ticks.length - 1] as number;
    expect(ticks.length).toBe((last - first) / INTERVAL_MS + 1);
    expect(first).toBeLessThan(killedAt);
    expect(last).toBeGreaterThan(restartedAt);
    const duringOutage = ticks.filter((t) => t > killedAt && t < restartedAt);
    expect(duringOutage.length).toBeGreaterThanOrEqual(OUTAGE_MS / INTERVAL_MS - 1);
  }, 150_000);
});
