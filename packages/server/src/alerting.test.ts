import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parseRule } from "@vigil/alerts";
import { createLogger } from "@vigil/common";
import { Catalog } from "@vigil/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAlerting } from "./alerting.js";

const T = Date.UTC(2026, 0, 15, 12, 0, 0);
let dir: string;
let catalog: Catalog;
let lines: Record<string, unknown>[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-server-alerting-"));
  catalog = Catalog.open(dir);
  lines = [];
});
afterEach(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

function logger() {
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return createLogger({ name: "alerting-test", level: "debug", destination });
}

const memoryRule = (severity: string, forValue = "2s") =>
  parseRule({
    name: "MemoryHigh",
    kind: "threshold",
    metric: "memory_used_percent",
    op: ">",
    threshold: 90,
    for: forValue,
    severity,
    repeat_interval: "5s",
  });
const sample = (ts: number, value: number) => [
  { metric: "memory_used_percent", labels: {}, timestamps: [ts], values: [value] },
];
const EVENTS = ["alert firing", "alert repeat", "alert resolved"];
const alertLines = () => lines.filter((l) => EVENTS.includes(String(l.msg)));

describe("startAlerting", () => {
  it("logs firing (warn), repeat and resolved (info) with rule, severity, agent, labels and value", () => {
    let now = T;
    const a = startAlerting({
      rules: [memoryRule("critical")],
      catalog,
      logger: logger(),
      now: () => now,
      tickMs: 0,
    });
    a.ingest("web-1", sample(now, 95), now);
    expect(a.activeAlerts().map((x) => x.state)).toEqual(["pending"]);
    now += 2_000;
    a.engine.tick(now);
    expect(alertLines()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: "alert firing",
        rule: "MemoryHigh",
        severity: "critical",
        agent: "web-1",
        labels: { alertname: "MemoryHigh", agent: "web-1" },
        value: 95,
      }),
    ]);
    now += 5_000;
    a.engine.tick(now);
    expect(alertLines()[1]).toMatchObject({ level: 30, msg: "alert repeat", rule: "MemoryHigh" });
    now += 1_000;
    a.ingest("web-1", sample(now, 10), now);
    expect(alertLines()[2]).toMatchObject({ level: 30, msg: "alert resolved", rule: "MemoryHigh" });
    expect(a.activeAlerts()).toEqual([]);
    a.stop();
  });

  it("logs info-severity firing at info, and swaps rules with setRules", () => {
    const now = T;
    const a = startAlerting({ rules: [], catalog, logger: logger(), now: () => now, tickMs: 0 });
    a.ingest("web-1", sample(now, 95), now);
    expect(a.activeAlerts()).toEqual([]);
    a.setRules([memoryRule("info", "0s")]);
    expect(lines.find((l) => l.msg === "alert rules reloaded")).toMatchObject({ rules: 1 });
    a.ingest("web-1", sample(now + 1, 96), now);
    expect(alertLines()).toEqual([
      expect.objectContaining({ level: 30, msg: "alert firing", severity: "info" }),
    ]);
    a.stop();
  });

  it("registers the catalog's agents at start, so their health is known", () => {
    catalog.upsertAgent({ id: "db-1", hostname: "db-1", version: "1", labels: {}, seenAt: T - 3_600_000 });
    const a = startAlerting({
      rules: [],
      catalog,
      logger: logger(),
      now: () => T,
      downAfterMs: 120_000,
      tickMs: 0,
    });
    // Silence counts from the end of the start grace (1 min), so a long-gone agent is down 2 min after it.
    expect(a.agentHealth("db-1", T + 60_000)?.status).toBe("healthy");
    expect(a.agentHealth("db-1", T + 180_000)?.status).toBe("down");
    expect(a.agentHealth("nobody", T)).toBe(undefined);
    a.stop();
  });

  it("keeps a firing alert across a restart over the same vigil.db: no second firing, ack and history kept", () => {
    let now = T;
    const run1 = startAlerting({
      rules: [memoryRule("critical")],
      catalog,
      logger: logger(),
      now: () => now,
      tickMs: 0,
    });
    run1.ingest("web-1", sample(now, 95), now);
    now += 2_000;
    run1.ingest("web-1", sample(now, 95), now);
    const fp = run1.activeAlerts()[0]?.fingerprint as string;
    expect(run1.acknowledge(fp, { by: "ann", comment: "looking" }).ack).toMatchObject({ by: "ann" });
    run1.stop();
    catalog.close();

    now += 60_000;
    catalog = Catalog.open(dir);
    const run2 = startAlerting({
      rules: [memoryRule("critical")],
      catalog,
      logger: logger(),
      now: () => now,
      tickMs: 0,
    });
    expect(lines.find((l) => l.msg === "alert state restored")).toMatchObject({ firing: 1 });
    expect(run2.activeAlerts()).toMatchObject([
      { fingerprint: fp, state: "firing", firedAt: T + 2_000, ack: { by: "ann", comment: "looking" } },
    ]);
    // Still hot: acknowledged, so no repeat; nothing fires again.
    for (let i = 0; i < 10; i++) {
      now += 1_000;
      run2.ingest("web-1", sample(now, 95), now);
    }
    expect(alertLines().map((l) => l.msg)).toEqual(["alert firing"]);
    now += 1_000;
    run2.ingest("web-1", sample(now, 10), now);
    expect(alertLines().map((l) => l.msg)).toEqual(["alert firing", "alert resolved"]);

    const history = run2.history({ agent: "web-1" });
    expect(history.entries.map((e) => [e.type, e.at - T])).toEqual([
      ["resolved", now - T],
      ["acknowledged", 2_000],
      ["firing", 2_000],
    ]);
    expect(history.entries[2]).toMatchObject({
      fingerprint: fp,
      severity: "critical",
      value: 95,
      labels: { alertname: "MemoryHigh", agent: "web-1" },
    });
    expect(run2.history({ severity: "warning" }).entries).toEqual([]);
    expect(catalog.alerts.loadStates()).toEqual([]);
    run2.stop();
  });
});
