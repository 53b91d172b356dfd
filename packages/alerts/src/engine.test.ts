import { describe, expect, it } from "vitest";
import { AlertEngine } from "./engine.js";
import { alertFingerprint } from "./fingerprint.js";
import { engineWith, one, RecordingSink, rules } from "./test-support.js";

const MIN = 60_000;
const disk = {
  name: "DiskFull",
  kind: "threshold",
  metric: "filesystem_used_percent",
  op: ">",
  threshold: 90,
  severity: "critical",
  agents: "web-*",
  matchers: ['fstype!="tmpfs"'],
  labels: { team: "ops" },
  annotations: { summary: "{{ $agent }} {{ $labels.mountpoint }} is {{ $value }}% full" },
  repeat_interval: "10m",
};

describe("AlertEngine", () => {
  it("selects series by metric, agent glob and matchers, and labels the alert", () => {
    const { engine, sink } = engineWith([disk]);
    engine.ingest(
      "web-1",
      [
        one("filesystem_used_percent", { mountpoint: "/", fstype: "ext4" }, 0, 95.5),
        one("filesystem_used_percent", { mountpoint: "/run", fstype: "tmpfs" }, 0, 99),
      ],
      0,
    );
    engine.ingest("db-1", [one("filesystem_used_percent", { mountpoint: "/", fstype: "ext4" }, 0, 99)], 0);
    expect(sink.events).toHaveLength(1);
    const e = sink.events[0];
    const labels = { alertname: "DiskFull", agent: "web-1", mountpoint: "/", fstype: "ext4", team: "ops" };
    expect(e).toMatchObject({
      type: "firing",
      rule: "DiskFull",
      severity: "critical",
      agent: "web-1",
      metric: "filesystem_used_percent",
      labels,
      annotations: { summary: "web-1 / is 95.5% full" },
      value: 95.5,
      fingerprint: alertFingerprint("DiskFull", labels),
    });
  });

  it("skips resends and out-of-order samples", () => {
    const { engine, sink } = engineWith([{ ...disk, for: "0s" }]);
    const s = (ts: number, v: number) => [one("filesystem_used_percent", { mountpoint: "/" }, ts, v)];
    engine.ingest("web-1", s(1000, 95), 1000);
    engine.ingest("web-1", s(2000, 50), 2000);
    engine.ingest("web-1", s(1000, 95), 3000); // a resend of the first batch
    expect(sink.timeline()).toEqual(["1s:firing", "2s:resolved"]);
  });

  it("repeats every repeat_interval while firing, on ticks and on samples", () => {
    const { engine, sink } = engineWith([disk]);
    for (let i = 0; i <= 30; i++) {
      const now = i * MIN;
      if (i % 2 === 0)
        engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, now, 95)], now);
      engine.tick(now);
    }
    expect(sink.timeline()).toEqual(["0s:firing", "600s:repeat", "1200s:repeat", "1800s:repeat"]);
    const fps = new Set(sink.events.map((e) => e.fingerprint));
    expect(fps.size).toBe(1);
  });

  it("a reload of the same rules with 100 active alerts sends nothing and keeps state", () => {
    const defs = [
      disk,
      { name: "Jump", kind: "rate_of_change", metric: "load1", window: "5m", threshold: 50 },
    ];
    const { engine, sink } = engineWith(defs);
    for (let a = 0; a < 100; a++) {
      engine.ingest(
        `web-${a}`,
        [one("filesystem_used_percent", { mountpoint: "/" }, 0, 95), one("load1", {}, 0, 1)],
        0,
      );
    }
    expect(engine.activeAlerts().filter((x) => x.state === "firing")).toHaveLength(100);
    sink.clear();
    engine.setRules(rules(...defs), MIN);
    engine.tick(MIN);
    expect(sink.events).toEqual([]);
    expect(engine.activeAlerts()).toHaveLength(100);
    // Windows survived the reload: the load1 jump is measured against the sample before it.
    engine.ingest("web-0", [one("load1", {}, 2 * MIN, 2)], 2 * MIN);
    expect(sink.timeline()).toEqual(["120s:firing"]);
  });

  it("a changed rule keeps its alerts; the next evaluation decides", () => {
    const { engine, sink } = engineWith([disk]);
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 0, 95)], 0);
    engine.setRules(rules({ ...disk, threshold: 92 }), MIN);
    expect(sink.timeline()).toEqual(["0s:firing"]);
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, MIN, 94)], MIN);
    expect(sink.timeline()).toEqual(["0s:firing"]);
    engine.setRules(rules({ ...disk, threshold: 98 }), 2 * MIN);
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 2 * MIN, 94)], 2 * MIN);
    expect(sink.timeline()).toEqual(["0s:firing", "120s:resolved"]);
  });

  it("a removed rule resolves its firing alerts", () => {
    const { engine, sink } = engineWith([disk]);
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 0, 95)], 0);
    engine.setRules([], MIN);
    expect(sink.events.map((e) => [e.type, e.resolveReason])).toEqual([
      ["firing", undefined],
      ["resolved", "rule_removed"],
    ]);
    expect(engine.activeAlerts()).toEqual([]);
  });

  it("a stale series resolves its alerts and frees its windows", () => {
    const { engine, sink } = engineWith(
      [
        disk,
        {
          name: "Fill",
          kind: "trend",
          metric: "filesystem_used_percent",
          window: "10m",
          horizon: "1h",
          threshold: 200,
        },
      ],
      { staleAfterMs: 5 * MIN },
    );
    for (let i = 0; i < 5; i++) {
      engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, i * MIN, 95)], i * MIN);
    }
    expect(engine.stats()).toMatchObject({ series: 1, windows: 1, windowEntries: 5 });
    engine.tick(8 * MIN);
    expect(engine.stats()).toMatchObject({ series: 1, windows: 1 });
    engine.tick(9 * MIN);
    expect(sink.events.map((e) => [e.type, e.at, e.resolveReason])).toEqual([
      ["firing", 0, undefined],
      ["resolved", 9 * MIN, "series_gone"],
    ]);
    expect(engine.stats()).toMatchObject({ series: 0, windows: 0, windowEntries: 0, activeAlerts: 0 });
  });

  it("staleSeries ends a series at once", () => {
    const { engine, sink } = engineWith([disk]);
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 0, 95)], 0);
    engine.staleSeries("web-1", "filesystem_used_percent", { mountpoint: "/" }, 1000);
    expect(sink.timeline()).toEqual(["0s:firing", "1s:resolved"]);
  });

  it("lists pending and firing alerts", () => {
    const { engine } = engineWith([{ ...disk, for: "5m" }], { staleAfterMs: 10 * MIN });
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 0, 95)], 0);
    expect(engine.activeAlerts()).toMatchObject([{ state: "pending", activeAt: 0, firedAt: undefined }]);
    engine.tick(5 * MIN);
    expect(engine.activeAlerts()).toMatchObject([{ state: "firing", activeAt: 0, firedAt: 5 * MIN }]);
  });

  it("reports host health", () => {
    const { engine } = engineWith(
      [
        disk,
        { name: "Info", kind: "threshold", metric: "load1", op: ">", threshold: 0, severity: "info" },
        { name: "Down", kind: "offline", timeout: "2m", agents: "db-*" },
      ],
      { offlineGraceMs: 0, downAfterMs: 10 * MIN },
    );
    engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 0, 95)], 0);
    engine.ingest("web-2", [one("load1", {}, 0, 3)], 0);
    engine.agentSeen("db-1", 0);
    engine.tick(MIN);
    expect(engine.hostHealth(MIN).map((h) => [h.agent, h.status])).toEqual([
      ["db-1", "healthy"],
      ["web-1", "warning"],
      ["web-2", "healthy"],
    ]);
    engine.tick(3 * MIN);
    expect(engine.agentHealth("db-1", 3 * MIN)).toMatchObject({
      status: "down",
      reason: 'offline alert "Down" firing',
    });
    // web-2 has no offline rule: down after downAfterMs of silence.
    expect(engine.agentHealth("web-2", 10 * MIN)?.status).toBe("down");
    expect(engine.agentHealth("nobody", 0)).toBeUndefined();
  });

  it("never reads the clock: the same inputs give the same events", () => {
    const run = () => {
      const sink = new RecordingSink();
      const engine = new AlertEngine({ sink, now: 1_000 });
      engine.setRules(rules(disk), 1_000);
      engine.ingest("web-1", [one("filesystem_used_percent", { mountpoint: "/" }, 5, 95)], 2_000);
      engine.tick(3_000_000);
      return sink.events;
    };
    expect(run()).toEqual(run());
  });
});
