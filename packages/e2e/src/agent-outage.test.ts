import { describe, expect, it } from "vitest";
import { cleanupAfterEach, readStoredSamples } from "./harness.js";
import { runOutage } from "./outage-run.js";

const INTERVAL_MS = 200;
/**
 * A short outage at a fast interval fills a 1,000-sample ring many times over (the 60 s outage
 * with a ring large enough is agent-outage-60s.test.ts).
 */
const OUTAGE_MS = 3_000;

describe("server outage while the agent runs, with a small ring", () => {
  const cleanups = cleanupAfterEach();

  it("drops the oldest, and dropped (the final count and agent_samples_dropped_total) equals exactly what is missing", async () => {
    const { final, ticks, stored, killedAt, restartedAt, reconnectedAt, dataDir } = await runOutage({
      agentId: "outage-small",
      maxSamples: 1_000,
      intervalMs: INTERVAL_MS,
      outageMs: OUTAGE_MS,
      // The self-metrics tick is 10 s: long enough after the reconnect for one to report the final count.
      afterMs: 14_000,
      cleanup: cleanups.push,
    });
    expect(final.held).toBe(0);
    expect(final.rejected).toBe(0);
    expect(final.dropped).toBeGreaterThan(0);
    // Every sample is stored or counted as dropped, never both, never neither.
    expect(stored).toBe((final.collected as number) - (final.dropped as number));
    expect(final.acked).toBe(stored);
    // The agent reports the same count as an ordinary series: its latest value is what is missing.
    const droppedSeries = readStoredSamples(dataDir, "outage-small", "agent_samples_dropped_total").sort(
      (a, b) => a.ts - b.ts,
    );
    const latest = droppedSeries[droppedSeries.length - 1];
    expect(latest?.ts).toBeGreaterThan(reconnectedAt);
    expect(latest?.value).toBe(final.dropped);
    // What is missing lies in the outage, the oldest unacked data: before it and after the
    // reconnect every tick is there. (Usually one run of ticks; batches already sent when the server
    // went away are dropped last, so a second short gap may show.)
    const gaps: [number, number][] = [];
    for (let i = 1; i < ticks.length; i++) {
      const a = ticks[i - 1] as number;
      const b = ticks[i] as number;
      if (b - a !== INTERVAL_MS) gaps.push([a, b]);
    }
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    for (const [gapStart, gapEnd] of gaps) {
      expect(gapStart).toBeGreaterThan(killedAt - 3_000);
      expect(gapEnd).toBeLessThan(restartedAt + 2_000);
    }
    expect(ticks[ticks.length - 1] as number).toBeGreaterThan(restartedAt);
  }, 90_000);
});
