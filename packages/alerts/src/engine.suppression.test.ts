import { describe, expect, it } from "vitest";
import type { AgentSettings } from "./agent-settings.js";
import { engineWith } from "./test-support.js";

const S = 1000;
const MIN = 60 * S;
const down = { name: "Down", kind: "offline", timeout: "2m", severity: "critical" };

function settings(entries: Record<string, AgentSettings>): Map<string, AgentSettings> {
  return new Map(Object.entries(entries));
}

describe("maintenance windows and expected_offline", () => {
  it("suppress offline alerts and show as such in health, not as down", () => {
    const { engine, sink } = engineWith([down], { downAfterMs: 5 * MIN });
    engine.setAgentSettings(
      settings({
        "nas-1": { expectedOffline: true, maintenance: [] },
        "db-1": { expectedOffline: false, maintenance: [{ startMs: 10 * MIN, endMs: 20 * MIN }] },
      }),
      0,
    );
    for (const id of ["nas-1", "db-1", "web-1"]) engine.agentSeen(id, 0);
    for (let t = 0; t <= 9 * MIN; t += 10 * S) engine.tick(t);
    // web-1 and db-1 go offline after 2 min; nas-1 never does.
    expect(sink.events.map((e) => `${e.agent}:${e.at / S}s:${e.type}`)).toEqual([
      "db-1:120s:firing",
      "web-1:120s:firing",
    ]);
    expect(engine.agentHealth("nas-1", 9 * MIN)).toMatchObject({
      status: "healthy",
      suppressed: "expected_offline",
      reason: "silent for 540s, expected offline; no warning or critical alert firing",
    });
    expect(engine.agentHealth("web-1", 9 * MIN)).toMatchObject({ status: "down", suppressed: undefined });

    // db-1's window opens at 10 min: its firing alert resolves (suppressed), health says maintenance.
    sink.clear();
    for (let t = 9 * MIN + 10 * S; t <= 19 * MIN; t += 10 * S) engine.tick(t);
    expect(sink.events.map((e) => `${e.agent}:${e.at / S}s:${e.type}:${e.resolveReason}`)).toEqual([
      "db-1:600s:resolved:suppressed",
    ]);
    expect(engine.agentHealth("db-1", 15 * MIN)).toMatchObject({
      status: "healthy",
      suppressed: "maintenance",
    });

    // The window ends at 20 min and db-1 is still silent: offline again.
    sink.clear();
    for (let t = 19 * MIN + 10 * S; t <= 21 * MIN; t += 10 * S) engine.tick(t);
    expect(sink.events.map((e) => `${e.agent}:${e.at / S}s:${e.type}`)).toEqual(["db-1:1200s:firing"]);
    expect(engine.agentHealth("db-1", 21 * MIN)).toMatchObject({ status: "down", suppressed: undefined });
  });

  it("a reload that adds expected_offline resolves the agent's firing offline alert", () => {
    const { engine, sink } = engineWith([down]);
    engine.agentSeen("nas-1", 0);
    engine.tick(3 * MIN);
    expect(sink.timeline()).toEqual(["180s:firing"]);
    engine.setAgentSettings(settings({ "nas-1": { expectedOffline: true, maintenance: [] } }), 4 * MIN);
    expect(sink.events.at(-1)).toMatchObject({ type: "resolved", resolveReason: "suppressed", at: 4 * MIN });
    engine.tick(10 * MIN);
    expect(sink.events).toHaveLength(2);
  });
});
