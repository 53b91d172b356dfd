import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtinCollectors } from "@vigil/collectors";
import { afterAll, describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  copyFixture,
  enrolledAgentConfig,
  eventually,
  type Proc,
  type ServerHandle,
  startNode,
  startServer,
  tempDir,
} from "./harness.js";

const AGENT_ID = "alert-1";
const tmp = tempDir("vigil-e2e-alerting-");
let server: ServerHandle | undefined;
let agent: Proc | undefined;
afterAll(async () => {
  await agent?.stop("SIGKILL");
  await server?.proc.stop();
  tmp.cleanup();
});

/** Only the memory collector, every 500 ms. */
function memoryOnly(): string {
  const sections = builtinCollectors().map((r) =>
    r.name === "memory"
      ? `[collectors.memory]\nenabled = true\ninterval = "500ms"\n`
      : `[collectors.${r.name}]\nenabled = false\n`,
  );
  return `[stream]\nflush_interval = "200ms"\n\n${sections.join("\n")}`;
}

/** The container fixture's meminfo is about 1.4 % used: above 1, below 99. */
function rule(threshold: number, forValue = "1s"): string {
  return `[[alert.rules]]
name = "MemoryUsed"
kind = "threshold"
metric = "memory_used_percent"
agents = "alert-*"
op = ">"
threshold = ${threshold}
for = "${forValue}"
severity = "critical"
annotations = { summary = "{{ $agent }} uses {{ $value }}% of its memory" }
`;
}

interface ApiAlert {
  rule: string;
  state: string;
  agent: string;
  severity: string;
  value: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

describe("alerting with real server and agent processes", () => {
  it("fires a threshold rule after `for`, lists it, and keeps the old rules on a bad SIGHUP", async () => {
    const configFile = join(tmp.path, "server.toml");
    writeFileSync(configFile, rule(1));
    server = await startServer(join(tmp.path, "data"), undefined, "info", ["--config", configFile]);
    // The first-start token goes to stderr just after the "listening" line.
    const token = (await server.proc.waitForLine((l) => /^\s+vgt_/.test(l))).trim();
    const api = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${server?.httpPort}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const firingAlerts = async () =>
      ((await api("/api/v1/alerts")).alerts as ApiAlert[]).filter((a) => a.state === "firing");

    const proc = copyFixture("container/proc", join(tmp.path, "proc"));
    const agentConfig = await enrolledAgentConfig(server, tmp.path, {
      agentId: AGENT_ID,
      procfs: proc,
      extra: memoryOnly(),
    });
    agent = startNode(AGENT_BIN, ["--config", agentConfig]);

    const fired = await server.proc.waitForLog("alert firing", 30_000);
    expect(fired).toMatchObject({ level: 40, rule: "MemoryUsed", severity: "critical", agent: AGENT_ID });
    expect(fired.value as number).toBeGreaterThan(1);
    expect(fired.labels).toMatchObject({ alertname: "MemoryUsed", agent: AGENT_ID });
    const listed = await eventually(async () => {
      const a = await firingAlerts();
      return a.length > 0 ? a : undefined;
    });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ rule: "MemoryUsed", agent: AGENT_ID, severity: "critical" });
    expect(listed[0]?.annotations.summary).toMatch(/^alert-1 uses 1\.\d+% of its memory$/);
    const agents = (await api("/api/v1/agents")).agents as { id: string; status: string }[];
    expect(agents.find((a) => a.id === AGENT_ID)?.status).toBe("warning");

    // An invalid file: logged with file, key and rule; the old rule keeps firing, nothing resolves.
    writeFileSync(configFile, rule(1, "soon"));
    server.proc.child.kill("SIGHUP");
    const failed = await server.proc.waitForLog("alert rules reload failed; keeping the old rules");
    expect(String(failed.err)).toContain(configFile);
    expect(String(failed.err)).toMatch(/alert\.rules\.0\.for: rule "?MemoryUsed"?/);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await firingAlerts()).map((a) => a.rule)).toEqual(["MemoryUsed"]);
    expect(server.proc.output).not.toContain('"msg":"alert resolved"');

    // A valid file: swapped in; under the new threshold the alert resolves.
    writeFileSync(configFile, rule(99));
    server.proc.child.kill("SIGHUP");
    expect(await server.proc.waitForLog("alert rules reloaded")).toMatchObject({ rules: 1 });
    const resolved = await server.proc.waitForLog("alert resolved", 20_000);
    expect(resolved).toMatchObject({ level: 30, rule: "MemoryUsed", agent: AGENT_ID });
    expect(await firingAlerts()).toEqual([]);
  });
});
