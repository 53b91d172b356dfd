import { describe, expect, it } from "vitest";
import { Backtest, type BacktestSample, backtest } from "./backtest.js";
import { rules } from "./test-support.js";

const S = 1000;
const T0 = Date.UTC(2026, 10, 18, 0, 0, 0);
const [hot] = rules({
  name: "Hot",
  kind: "threshold",
  metric: "temp",
  agents: "web-*",
  matchers: ['sensor!="ignored"'],
  op: ">",
  threshold: 50,
  for: "25s",
  severity: "warning",
  repeat_interval: "1m",
});

/** One value every 10 s from T0 (undefined: no sample). */
function series(
  agent: string,
  labels: Record<string, string>,
  values: (number | undefined)[],
): BacktestSample[] {
  return values.flatMap((v, i) =>
    v === undefined ? [] : [{ agent, metric: "temp", labels, ts: T0 + i * 10 * S, value: v }],
  );
}

function merged(...lists: BacktestSample[][]): BacktestSample[] {
  return lists.flat().sort((a, b) => a.ts - b.ts);
}

describe("backtest", () => {
  it("lists fire and resolve times exact to the evaluation step on a hand-computed series", () => {
    // 0s:10  10s..40s:60 (pending at 10 s, `for` 25 s → fires on the 35 s tick)  50s:20 (resolves)
    // 60s..120s:70 (pending 60 s, fires on the 85 s tick, one repeat at 145 s)  then silence to 200 s.
    const web1 = series("web-1", { sensor: "a" }, [10, 60, 60, 60, 60, 20, 70, 70, 70, 70, 70, 70, 70]);
    const ignored = series("web-1", { sensor: "ignored" }, [99, 99, 99, 99, 99, 99]);
    const otherAgent = series("db-1", { sensor: "a" }, [99, 99, 99, 99, 99, 99]);
    const result = backtest(hot as NonNullable<typeof hot>, merged(web1, ignored, otherAgent), {
      fromMs: T0,
      toMs: T0 + 200 * S,
    });
    expect(result.samples).toBe(web1.length + ignored.length + otherAgent.length);
    expect(
      result.episodes.map((e) => ({
        agent: e.agent,
        active: (e.activeAt - T0) / S,
        fired: (e.firedAt - T0) / S,
        resolved: e.resolvedAt === undefined ? undefined : (e.resolvedAt - T0) / S,
        reason: e.resolveReason,
        value: e.firedValue,
        repeats: e.repeats,
      })),
    ).toEqual([
      { agent: "web-1", active: 10, fired: 35, resolved: 50, reason: "condition", value: 60, repeats: 0 },
      {
        agent: "web-1",
        active: 60,
        fired: 85,
        resolved: undefined,
        reason: undefined,
        value: 70,
        repeats: 1,
      },
    ]);
    expect(result.episodes[0]?.labels).toEqual({ alertname: "Hot", agent: "web-1", sensor: "a" });
  });

  it("ticks at the evaluation interval: a coarser one fires later, on its own grid", () => {
    const web1 = series("web-1", { sensor: "a" }, [10, 60, 60, 60, 60, 20]);
    const r = backtest(hot as NonNullable<typeof hot>, web1, {
      fromMs: T0,
      toMs: T0 + 60 * S,
      evalIntervalMs: 15 * S,
    });
    // Ticks at 0, 15, 30, 45 s; samples at 10..40 s: `for` holds from the 40 s sample (30 s ≥ 25 s).
    expect(r.episodes.map((e) => [(e.firedAt - T0) / S, ((e.resolvedAt ?? 0) - T0) / S])).toEqual([[40, 50]]);
  });

  it("refuses samples out of order and offline rules", () => {
    const run = new Backtest(hot as NonNullable<typeof hot>, { fromMs: T0, toMs: T0 + 60 * S });
    run.add({ agent: "web-1", metric: "temp", labels: {}, ts: T0 + 10 * S, value: 1 });
    expect(() => run.add({ agent: "web-1", metric: "temp", labels: {}, ts: T0, value: 1 })).toThrow(
      /out of order/,
    );
    const [down] = rules({ name: "Down", kind: "offline", timeout: "1m" });
    expect(() => backtest(down as NonNullable<typeof down>, [], { fromMs: T0, toMs: T0 })).toThrow(
      'rule "Down": offline rules cannot be backtested (they need agent sightings, not samples)',
    );
  });
});
