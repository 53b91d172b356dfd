import { tmpdir } from "node:os";
import type { Collector } from "@vigil/collectors";
import { ProcFs } from "@vigil/collectors";
import type { Sample } from "@vigil/common";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ScheduledCollector, Scheduler } from "./scheduler.js";
import { captureLogger, deferred, LEVEL } from "./test-support.js";

/** A collector that records the tick it was called with and answers with whatever `answer` gives. */
function fakeCollector(
  name: string,
  answer: (tick: number, call: number) => Promise<Sample[]> | Sample[] = (tick) => [
    { metric: `${name}_value`, labels: {}, value: 1, ts: tick },
  ],
) {
  const ticks: number[] = [];
  let active = 0;
  let maxActive = 0;
  const collector: Collector = {
    name,
    metrics: [],
    async collect(ctx) {
      ticks.push(ctx.now);
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        return await answer(ctx.now, ticks.length);
      } finally {
        active--;
      }
    },
  };
  return {
    collector,
    ticks,
    get maxActive() {
      return maxActive;
    },
  };
}

const proc = new ProcFs(tmpdir());
const WAIT = { timeout: 10_000, interval: 5 };
let scheduler: Scheduler | undefined;
afterEach(() => {
  scheduler?.stop();
  scheduler = undefined;
});

function start(entries: ScheduledCollector[], now?: () => number) {
  const { logger, lines } = captureLogger();
  const received: Sample[] = [];
  scheduler = new Scheduler(entries, { proc, sys: proc }, (s) => received.push(...s), logger, now);
  scheduler.start();
  return { received, lines };
}

describe("Scheduler", () => {
  it("fires on multiples of the interval by its clock and stamps samples with the tick", async () => {
    // Ten years ahead of the real clock plus 7 ms: ticks aligned to the real clock would not fit.
    const offset = 10 * 365 * 86_400_000 + 7;
    const now = () => Date.now() + offset;
    const startedAt = now();
    const c = fakeCollector("fast");
    const { received } = start([{ collector: c.collector, intervalMs: 20 }], now);
    await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(5), WAIT);
    const stamps = received.map((s) => s.ts);
    for (const ts of stamps) {
      expect(ts % 20).toBe(0);
      expect(ts).toBeGreaterThan(startedAt);
      expect(ts).toBeLessThanOrEqual(now());
    }
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBeGreaterThan(stamps[i - 1] as number);
    expect(c.ticks.slice(0, stamps.length)).toEqual(stamps);
  });

  it("never runs a tick twice when its timer fires just before the tick by the clock", async () => {
    // The clock reads 1 ms before each tick whenever the scheduler looks at it after the start:
    // 0, then 19, 39, 59 … (a timer that fires early by the wall clock).
    let calls = 0;
    const now = () => (calls++ === 0 ? 0 : 20 * (calls - 1) - 1);
    const c = fakeCollector("early");
    start([{ collector: c.collector, intervalMs: 20 }], now);
    await vi.waitFor(() => expect(c.ticks.length).toBeGreaterThanOrEqual(4), WAIT);
    expect(c.ticks.slice(0, 4)).toEqual([20, 40, 60, 80]);
  });

  it("keeps a fast collector on time while a slow one is stuck", async () => {
    const release = deferred<Sample[]>();
    const slow = fakeCollector("slow", () => release.promise);
    const fast = fakeCollector("fast");
    const { received } = start([
      { collector: slow.collector, intervalMs: 200 },
      { collector: fast.collector, intervalMs: 20 },
    ]);
    await vi.waitFor(() => expect(slow.ticks).toHaveLength(1), WAIT);
    const before = fast.ticks.length;
    await vi.waitFor(() => expect(fast.ticks.length).toBeGreaterThanOrEqual(before + 5), WAIT);
    // the slow collect has not finished the whole time, and was not started again
    expect(slow.ticks).toHaveLength(1);
    expect(received.filter((s) => s.metric === "slow_value")).toEqual([]);
    expect(received.filter((s) => s.metric === "fast_value").length).toBeGreaterThanOrEqual(before + 5);
    release.resolve([]);
  });

  it("abandons a collect that outlives its timeout, logs it, and skips ticks until it really ends", async () => {
    const release = deferred<Sample[]>();
    const stuck = fakeCollector("stuck", (tick, call) =>
      call === 1 ? release.promise : [{ metric: "stuck_value", labels: {}, value: call, ts: tick }],
    );
    const { received, lines } = start([{ collector: stuck.collector, intervalMs: 100 }]);
    const failed = () => lines.filter((l) => l.msg === "collect failed");
    const skipped = () => lines.filter((l) => l.msg === "previous collect still running; skipped this tick");
    await vi.waitFor(() => expect(failed()).toHaveLength(1), WAIT);
    expect(failed()[0]).toMatchObject({
      level: LEVEL.warn,
      collector: "stuck",
      err: "collect took longer than 90 ms",
    });
    // the next tick finds the first collect still running: skipped and logged, no second collect
    await vi.waitFor(() => expect(skipped().length).toBeGreaterThanOrEqual(1), WAIT);
    expect(skipped()[0]).toMatchObject({ level: LEVEL.warn, collector: "stuck" });
    expect((skipped()[0]?.tick as number) % 100).toBe(0);
    expect(stuck.ticks).toHaveLength(1);
    // the abandoned collect ends late: its samples are not delivered, and collecting resumes
    release.resolve([{ metric: "stuck_value", labels: {}, value: -1, ts: 0 }]);
    await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(1), WAIT);
    expect(received.map((s) => s.value)).not.toContain(-1);
    expect(received[0]?.value).toBe(2);
    expect(stuck.maxActive).toBe(1);
  });

  it("logs a collector that throws and runs it again on the next tick", async () => {
    const flaky = fakeCollector("flaky", (tick, call) => {
      if (call === 1) throw new Error("boom");
      return [{ metric: "flaky_value", labels: {}, value: call, ts: tick }];
    });
    const { received, lines } = start([{ collector: flaky.collector, intervalMs: 20 }]);
    await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(1), WAIT);
    expect(lines.filter((l) => l.msg === "collect failed")).toEqual([
      expect.objectContaining({ level: LEVEL.warn, collector: "flaky", err: "boom" }),
    ]);
    expect(received[0]?.value).toBe(2);
  });

  it("delivers nothing after stop, not even a collect that was running", async () => {
    const release = deferred<Sample[]>();
    const c = fakeCollector("late", () => release.promise);
    const { received } = start([{ collector: c.collector, intervalMs: 20 }]);
    await vi.waitFor(() => expect(c.ticks).toHaveLength(1), WAIT);
    scheduler?.stop();
    release.resolve([{ metric: "late_value", labels: {}, value: 1, ts: 20 }]);
    await release.promise;
    await new Promise((r) => setImmediate(r));
    expect(received).toEqual([]);
  });
});

describe("Scheduler.collectorSuccess and update", () => {
  it("records 1 for a collect that finished, 0 for one that threw or timed out", async () => {
    const ok = fakeCollector("ok");
    const bad = fakeCollector("bad", () => {
      throw new Error("boom");
    });
    const slow = fakeCollector("slow", () => new Promise<Sample[]>(() => {}));
    start([
      { collector: ok.collector, intervalMs: 20 },
      { collector: bad.collector, intervalMs: 20 },
      { collector: slow.collector, intervalMs: 100 },
    ]);
    const s = scheduler as Scheduler;
    await vi.waitFor(() => expect(s.collectorSuccess().size).toBe(3), WAIT);
    expect(Object.fromEntries(s.collectorSuccess())).toEqual({ ok: true, bad: false, slow: false });
  });

  it("swaps the collectors, forgetting the outcomes of removed ones", async () => {
    const a = fakeCollector("a");
    const b = fakeCollector("b");
    const { received } = start([{ collector: a.collector, intervalMs: 20 }]);
    const s = scheduler as Scheduler;
    await vi.waitFor(() => expect(s.collectorSuccess().get("a")).toBe(true), WAIT);
    s.update([{ collector: b.collector, intervalMs: 20 }]);
    expect(s.collectorSuccess().has("a")).toBe(false);
    const ticksOfA = a.ticks.length;
    await vi.waitFor(() => expect(received.some((x) => x.metric === "b_value")).toBe(true), WAIT);
    await new Promise((r) => setTimeout(r, 60));
    expect(a.ticks.length).toBeLessThanOrEqual(ticksOfA + 1); // at most a tick already under way
    expect(s.collectorSuccess().has("a")).toBe(false);
  });
});
