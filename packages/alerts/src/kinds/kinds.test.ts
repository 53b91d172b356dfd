import { describe, expect, it } from "vitest";
import { drive, engineWith, one } from "../test-support.js";
import { secondsToThreshold } from "./trend.js";

const MIN = 60_000;

describe("threshold", () => {
  it("fires when held for `for` and resolves on the first false sample (times exact to the step)", () => {
    const { engine, sink } = engineWith([
      { name: "HighLoad", kind: "threshold", metric: "load1", op: ">", threshold: 4, for: "2m" },
    ]);
    // Pending at 1m; 3m - 1m >= 2m: firing at 3m; false at 5m: resolved at 5m.
    expect(drive(engine, sink, "load1", [1, 5, 5, 5, 5, 1, 1])).toEqual(["180s:firing", "300s:resolved"]);
    expect(sink.events[0]?.value).toBe(5);
  });

  it("fires through tick when no new sample comes before `for` ends", () => {
    const { engine, sink } = engineWith([
      { name: "HighLoad", kind: "threshold", metric: "load1", op: ">=", threshold: 4, for: "90s" },
    ]);
    engine.ingest("web-1", [one("load1", {}, 0, 4)], 0);
    engine.tick(89_999);
    expect(sink.events).toHaveLength(0);
    engine.tick(90_000);
    expect(sink.timeline()).toEqual(["90s:firing"]);
  });
});

describe("rate_of_change", () => {
  it("absolute rise within the window", () => {
    const { engine, sink } = engineWith([
      {
        name: "Jump",
        kind: "rate_of_change",
        metric: "m",
        window: "3m",
        change: "absolute",
        direction: "up",
        threshold: 10,
      },
    ]);
    // 3m: window (0,3m] = 0,5,15: rise 15. 4m: 5,15,15: rise 10. 5m: 15,15,15: rise 0.
    expect(drive(engine, sink, "m", [0, 0, 5, 15, 15, 15, 15])).toEqual(["180s:firing", "300s:resolved"]);
    expect(sink.events[0]?.value).toBe(15);
  });

  it("percent rise and fall, signed", () => {
    const up = engineWith([
      { name: "Up", kind: "rate_of_change", metric: "m", window: "5m", direction: "up", threshold: 50 },
    ]);
    expect(drive(up.engine, up.sink, "m", [100, 120, 150])).toEqual(["120s:firing"]);
    expect(up.sink.events[0]?.value).toBe(50);
    const down = engineWith([
      { name: "Down", kind: "rate_of_change", metric: "m", window: "5m", direction: "down", threshold: 50 },
    ]);
    expect(drive(down.engine, down.sink, "m", [200, 180, 100, 200])).toEqual([
      "120s:firing",
      "180s:resolved",
    ]);
    expect(down.sink.events[0]?.value).toBe(-50);
  });

  it("`any` takes the larger move; `up` ignores falls; a zero base has no percent", () => {
    const any = engineWith([{ name: "A", kind: "rate_of_change", metric: "m", window: "5m", threshold: 50 }]);
    expect(drive(any.engine, any.sink, "m", [100, 40])).toEqual(["60s:firing"]);
    expect(any.sink.events[0]?.value).toBe(-60);
    const up = engineWith([
      { name: "U", kind: "rate_of_change", metric: "m", window: "5m", direction: "up", threshold: 50 },
    ]);
    expect(drive(up.engine, up.sink, "m", [100, 40, 0, 0, 5])).toEqual([]);
  });
});

describe("trend", () => {
  it("fires when predict_linear reaches the threshold within the horizon", () => {
    const { engine, sink } = engineWith([
      { name: "Fill", kind: "trend", metric: "disk", window: "5m", horizon: "10m", threshold: 102 },
    ]);
    // 5 per minute: predicted(t + 10m) = 5·(t/min + 10) >= 102 from t = 10.4 min: first step 11m.
    const values = Array.from({ length: 15 }, (_, i) => 5 * i);
    expect(drive(engine, sink, "disk", values)).toEqual(["660s:firing"]);
    expect(sink.events[0]?.value).toBeCloseTo(105, 9);
  });

  it("fires while already past the threshold and resolves when the line turns", () => {
    const { engine, sink } = engineWith([
      { name: "Low", kind: "trend", metric: "avail", window: "3m", horizon: "1h", op: "<", threshold: 0 },
    ]);
    // Falling 10/min from 100: predicted(t + 60m) < 0 from the second sample. At 4m the window
    // (1m, 4m] holds 80, 80, 80: flat, predicted 80, resolved.
    expect(drive(engine, sink, "avail", [100, 90, 80, 80, 80, 80, 80])).toEqual([
      "60s:firing",
      "240s:resolved",
    ]);
  });

  it("secondsToThreshold", () => {
    expect(secondsToThreshold(2, 10, ">=", 30)).toBe(10);
    expect(secondsToThreshold(-2, 10, ">=", 30)).toBe(Number.POSITIVE_INFINITY);
    expect(secondsToThreshold(1, 40, ">", 30)).toBe(0);
    expect(secondsToThreshold(-1, 10, "<", 0)).toBe(10);
  });
});

describe("offline", () => {
  it("fires `timeout` after the last sighting and resolves when the agent is back", () => {
    const { engine, sink } = engineWith(
      [{ name: "Down", kind: "offline", timeout: "2m", severity: "critical" }],
      {
        offlineGraceMs: MIN,
      },
    );
    for (let i = 0; i <= 8; i++) {
      const now = i * MIN;
      if (i <= 3 || i === 8) engine.agentSeen("web-1", now);
      engine.tick(now);
    }
    expect(sink.timeline()).toEqual(["300s:firing", "480s:resolved"]);
    expect(sink.events[0]?.labels).toEqual({ alertname: "Down", agent: "web-1" });
    expect(sink.events[0]?.value).toBe(120);
  });

  it("gives a grace period after engine start to agents last seen long before", () => {
    const { engine, sink } = engineWith([{ name: "Down", kind: "offline", timeout: "2m" }], {
      offlineGraceMs: MIN,
      now: 0,
    });
    engine.registerAgent("db-1", -3_600_000);
    for (let i = 0; i <= 4; i++) engine.tick(i * MIN);
    // Silence counts from 0 + 1m grace: fires at 3m, not at the first tick.
    expect(sink.timeline()).toEqual(["180s:firing"]);
  });

  it("gives a grace period after an agent is first seen", () => {
    const { engine, sink } = engineWith([{ name: "Down", kind: "offline", timeout: "1m" }], {
      offlineGraceMs: 5 * MIN,
    });
    engine.agentSeen("new-1", 10 * MIN);
    for (let i = 10; i <= 17; i++) engine.tick(i * MIN);
    expect(sink.timeline()).toEqual(["960s:firing"]);
  });
});

describe("absent", () => {
  it("fires when a series stops while its agent keeps reporting", () => {
    const { engine, sink } = engineWith([{ name: "NoTemp", kind: "absent", metric: "temp", timeout: "3m" }]);
    for (let i = 0; i <= 8; i++) {
      const now = i * MIN;
      const batch = [one("load1", {}, now, 1)];
      if (i <= 2 || i === 8) batch.push(one("temp", { chip: "a" }, now, 40));
      engine.ingest("web-1", batch, now);
      engine.tick(now);
    }
    expect(sink.timeline()).toEqual(["300s:firing", "480s:resolved"]);
    expect(sink.events[0]?.labels).toEqual({ alertname: "NoTemp", agent: "web-1", chip: "a" });
  });

  it("stays quiet when the whole agent is silent (that is offline's alert)", () => {
    const { engine, sink } = engineWith([{ name: "NoTemp", kind: "absent", metric: "temp", timeout: "3m" }]);
    engine.ingest("web-1", [one("temp", {}, 0, 40)], 0);
    for (let i = 1; i <= 10; i++) engine.tick(i * MIN);
    expect(sink.events).toEqual([]);
  });
});
