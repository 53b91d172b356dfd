import { describe, expect, it } from "vitest";
import { isAckError } from "./ack-error.js";
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
  for: "0s",
  severity: "warning",
  repeat_interval: "5m",
};

function firing() {
  const sink = new RecordingSink();
  const store = new MemoryAlertStore();
  const engine = new AlertEngine({ sink, now: 0, store });
  engine.setRules(rules(hot), 0);
  engine.ingest("web-1", [one("temp", {}, 0, 80)], 0);
  const fp = engine.activeAlerts()[0]?.fingerprint as string;
  /** Samples every 30 s (still hot) with a tick each, from `from` to `to`. */
  const run = (from: number, to: number) => {
    for (let t = from; t <= to; t += 30 * S) {
      engine.ingest("web-1", [one("temp", {}, t, 80)], t);
      engine.tick(t);
    }
  };
  return { engine, sink, store, fp, run };
}

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
};

describe("acknowledging alerts", () => {
  it("stops repeats until the alert resolves; the next episode repeats again", () => {
    const { engine, sink, store, fp, run } = firing();
    run(30 * S, 6 * MIN);
    expect(sink.timeline()).toEqual(["0s:firing", "300s:repeat"]);
    const acked = engine.acknowledge(fp, { by: "ann", comment: "disk swap planned" }, 6 * MIN);
    expect(acked.ack).toEqual({ by: "ann", comment: "disk swap planned", at: 6 * MIN, expiresAt: undefined });
    run(6 * MIN + 30 * S, 30 * MIN);
    expect(sink.timeline()).toEqual(["0s:firing", "300s:repeat"]);
    engine.ingest("web-1", [one("temp", {}, 31 * MIN, 10)], 31 * MIN);
    expect(sink.timeline().at(-1)).toBe("1860s:resolved");
    expect(engine.activeAlerts()).toEqual([]);
    // A new episode is not acknowledged.
    run(32 * MIN, 38 * MIN);
    expect(sink.timeline().slice(-2)).toEqual(["1920s:firing", "2220s:repeat"]);
    engine.flush();
    expect(store.history.map((h) => h.type)).toEqual([
      "firing",
      "repeat",
      "acknowledged",
      "resolved",
      "firing",
      "repeat",
    ]);
    expect(store.history[2]).toMatchObject({ by: "ann", comment: "disk swap planned", at: 6 * MIN });
  });

  it("resumes repeats when the acknowledgement expires, with one reminder due at once", () => {
    const { engine, sink, fp, run } = firing();
    engine.acknowledge(fp, { by: "bob", comment: "", expiresAt: 12 * MIN }, MIN);
    run(30 * S, 12 * MIN - 30 * S);
    expect(sink.timeline()).toEqual(["0s:firing"]);
    run(12 * MIN, 18 * MIN);
    // Overdue since 5 min: sent at the first evaluation after expiry, then every 5 min from there.
    expect(sink.timeline()).toEqual(["0s:firing", "720s:repeat", "1020s:repeat"]);
  });

  it("unacknowledge resumes repeats at once when one is overdue", () => {
    const { engine, sink, fp, run } = firing();
    engine.acknowledge(fp, { by: "bob", comment: "" }, 10 * S);
    run(30 * S, 7 * MIN);
    engine.unacknowledge(fp, "bob", 7 * MIN);
    run(7 * MIN + 30 * S, 7 * MIN + 30 * S);
    expect(sink.timeline()).toEqual(["0s:firing", "450s:repeat"]);
  });

  it("rejects unknown and pending fingerprints and bad input with clear errors", () => {
    const { engine, fp } = firing();
    const unknown = thrown(() => engine.acknowledge("0123456789abcdef", { by: "a", comment: "" }, S));
    expect(isAckError(unknown) && unknown.code).toBe("unknown_alert");
    expect((unknown as Error).message).toBe("no active alert with fingerprint 0123456789abcdef");
    expect(isAckError(thrown(() => engine.acknowledge(fp, { by: " ", comment: "" }, S)))).toBe(true);
    const past = thrown(() => engine.acknowledge(fp, { by: "a", comment: "", expiresAt: S }, S));
    expect(isAckError(past) && past.code).toBe("invalid_argument");
    expect(isAckError(thrown(() => engine.unacknowledge(fp, "a", S))) && "ok").toBe("ok");

    const sink = new RecordingSink();
    const slow = new AlertEngine({ sink, now: 0 });
    slow.setRules(rules({ ...hot, for: "1m" }), 0);
    slow.ingest("web-1", [one("temp", {}, 0, 80)], 0);
    const pendingFp = slow.activeAlerts()[0]?.fingerprint as string;
    const pending = thrown(() => slow.acknowledge(pendingFp, { by: "a", comment: "" }, S));
    expect(isAckError(pending) && pending.code).toBe("not_firing");
    expect((pending as Error).message).toMatch(/is pending, not firing/);
  });
});
