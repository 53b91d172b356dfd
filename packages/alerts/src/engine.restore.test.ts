import { describe, expect, it } from "vitest";
import { MemoryAlertStore } from "./alert-store.js";
import { AlertEngine } from "./engine.js";
import { one, RecordingSink, rules } from "./test-support.js";

const S = 1000;
const MIN = 60 * S;
const hot = {
  name: "Hot",
  kind: "threshold",
  metric: "temp",
  op: ">",
  threshold: 50,
  for: "20s",
  severity: "critical",
  repeat_interval: "10m",
};
const down = { name: "Down", kind: "offline", timeout: "2m", severity: "critical", repeat_interval: "10m" };

/** A server run: an engine over `store` started at `now`, with the rules, as the server builds it. */
function start(store: MemoryAlertStore, now: number, defs: Record<string, unknown>[] = [hot]) {
  const sink = new RecordingSink();
  const engine = new AlertEngine({ sink, now, store, offlineGraceMs: MIN });
  engine.setRules(rules(...defs), now);
  engine.flush();
  return { engine, sink };
}

const temp = (ts: number, v: number) => [one("temp", { sensor: "a" }, ts, v)];

describe("AlertEngine restore over an AlertStore", () => {
  it("saves only on changes, batched per flush", () => {
    const store = new MemoryAlertStore();
    const { engine } = start(store, 0);
    for (let t = 0; t <= 60 * S; t += S) {
      engine.ingest("web-1", temp(t, 80), t);
      engine.tick(t);
      engine.flush();
    }
    // pending at 0, firing at 20 s: two saves; the 59 other samples changed nothing worth saving.
    expect(store.saves).toBe(2);
    expect(store.history.map((h) => `${h.at / S}s:${h.type}`)).toEqual(["20s:firing"]);
    expect([...store.alerts.values()]).toMatchObject([
      { rule: "Hot", agent: "web-1", metric: "temp", state: "firing", activeAt: 0, firedAt: 20 * S },
    ]);
  });

  it("a firing alert stays firing across a restart with no second firing, and repeats keep their schedule", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0);
    for (let t = 0; t <= 30 * S; t += 10 * S) {
      run1.engine.ingest("web-1", temp(t, 80), t);
      run1.engine.flush();
    }
    expect(run1.sink.timeline()).toEqual(["20s:firing"]);
    const fp = run1.engine.activeAlerts()[0]?.fingerprint;

    // Restart at 2 min: the alert is listed at once, before any sample, and nothing is sent.
    const run2 = start(store, 2 * MIN);
    expect(run2.engine.activeAlerts()).toMatchObject([
      { fingerprint: fp, state: "firing", activeAt: 0, firedAt: 20 * S, lastSentAt: 20 * S },
    ]);
    for (let t = 2 * MIN; t <= 10 * MIN + 20 * S; t += 10 * S) {
      run2.engine.ingest("web-1", temp(t, 80), t);
      run2.engine.tick(t);
      run2.engine.flush();
    }
    // The repeat is due 10 min after the firing notification of the first run.
    expect(run2.sink.timeline()).toEqual(["620s:repeat"]);
    expect(store.history.map((h) => `${h.at / S}s:${h.type}`)).toEqual(["20s:firing", "620s:repeat"]);
  });

  it("a condition that cleared while the server was down resolves normally on the first sample", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0);
    for (let t = 0; t <= 30 * S; t += 10 * S) run1.engine.ingest("web-1", temp(t, 80), t);
    run1.engine.flush();
    const run2 = start(store, 5 * MIN);
    run2.engine.ingest("web-1", temp(5 * MIN, 20), 5 * MIN);
    run2.engine.flush();
    expect(run2.sink.events).toMatchObject([
      { type: "resolved", resolveReason: "condition", firedAt: 20 * S },
    ]);
    expect(store.alerts.size).toBe(0);
    // A third run has nothing to restore.
    expect(start(store, 6 * MIN).engine.activeAlerts()).toEqual([]);
  });

  it("a series that never comes back resolves as gone after the stale period", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0);
    for (let t = 0; t <= 30 * S; t += 10 * S) run1.engine.ingest("web-1", temp(t, 80), t);
    run1.engine.flush();
    const run2 = start(store, MIN);
    run2.engine.tick(MIN + 4 * MIN);
    expect(run2.sink.events).toEqual([]);
    run2.engine.tick(MIN + 5 * MIN);
    expect(run2.sink.events).toMatchObject([{ type: "resolved", resolveReason: "series_gone" }]);
  });

  it("a pending alert keeps its activeAt, so `for` counts from before the restart", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0);
    run1.engine.ingest("web-1", temp(0, 80), 0);
    run1.engine.flush();
    const run2 = start(store, 10 * S);
    expect(run2.engine.activeAlerts()).toMatchObject([{ state: "pending", activeAt: 0 }]);
    run2.engine.ingest("web-1", temp(20 * S, 80), 20 * S);
    expect(run2.sink.timeline()).toEqual(["20s:firing"]);
  });

  it("an alert whose rule was removed while the server was down resolves at start", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0);
    for (let t = 0; t <= 30 * S; t += 10 * S) run1.engine.ingest("web-1", temp(t, 80), t);
    run1.engine.flush();
    const run2 = start(store, MIN, [{ ...hot, name: "Other" }]);
    expect(run2.sink.events).toMatchObject([
      { type: "resolved", rule: "Hot", resolveReason: "rule_removed" },
    ]);
    expect(store.alerts.size).toBe(0);
  });

  it("a firing offline alert neither resolves nor fires again because the server restarted", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0, [down]);
    run1.engine.agentSeen("db-1", 0);
    for (let t = 0; t <= 4 * MIN; t += 10 * S) run1.engine.tick(t);
    run1.engine.flush();
    expect(run1.sink.timeline()).toEqual(["180s:firing"]); // 1 min agent grace + 2 min timeout
    const sink2 = new RecordingSink();
    const run3 = new AlertEngine({ sink: sink2, now: 5 * MIN, store, offlineGraceMs: MIN });
    run3.registerAgent("db-1", 0);
    run3.setRules(rules(down), 5 * MIN);
    for (let t = 5 * MIN; t <= 8 * MIN; t += 10 * S) run3.tick(t);
    expect(sink2.events).toEqual([]);
    expect(run3.activeAlerts()).toMatchObject([{ rule: "Down", state: "firing", firedAt: 180 * S }]);
    run3.agentSeen("db-1", 8 * MIN);
    expect(sink2.timeline()).toEqual(["480s:resolved"]);
  });

  it("an acknowledgement survives a restart", () => {
    const store = new MemoryAlertStore();
    const run1 = start(store, 0);
    for (let t = 0; t <= 30 * S; t += 10 * S) run1.engine.ingest("web-1", temp(t, 80), t);
    const fp = run1.engine.activeAlerts()[0]?.fingerprint as string;
    run1.engine.acknowledge(fp, { by: "ann", comment: "on it" }, 40 * S);
    run1.engine.flush();
    const run2 = start(store, MIN);
    expect(run2.engine.activeAlerts()[0]?.ack).toEqual({
      by: "ann",
      comment: "on it",
      at: 40 * S,
      expiresAt: undefined,
    });
    for (let t = MIN; t <= 30 * MIN; t += 10 * S) {
      run2.engine.ingest("web-1", temp(t, 80), t);
      run2.engine.tick(t);
    }
    expect(run2.sink.events).toEqual([]);
    expect(store.history.map((h) => h.type)).toEqual(["firing", "acknowledged"]);
  });
});
