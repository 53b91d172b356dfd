import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtinCollectors } from "@vigil/collectors";
import { describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  cleanupAfterEach,
  copyFixture,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  runCli,
  SERVER_BIN,
  startNode,
  startServer,
  tempDir,
} from "./harness.js";

const AGENT_ID = "persist-1";
const cleanup = cleanupAfterEach();

/** Only the memory collector, every 500 ms. */
function memoryOnly(): string {
  const sections = builtinCollectors().map((r) =>
    r.name === "memory"
      ? `[collectors.memory]\nenabled = true\ninterval = "500ms"\n`
      : `[collectors.${r.name}]\nenabled = false\n`,
  );
  return `[stream]\nflush_interval = "200ms"\n\n${sections.join("\n")}`;
}

/** The container fixture's meminfo is about 1.4 % used: always above 1. */
const RULE = `[[alert.rules]]
name = "MemoryUsed"
kind = "threshold"
metric = "memory_used_percent"
agents = "persist-*"
op = ">"
threshold = 1
for = "1s"
severity = "critical"
repeat_interval = "1h"
`;

const firingLines = (procs: Proc[], fingerprint: string) =>
  procs
    .flatMap((p) => p.logEntries())
    .filter((l) => l.msg === "alert firing" && l.fingerprint === fingerprint);

describe("alert state across a server restart (real processes)", () => {
  it("keeps a firing alert firing with one `alert firing` across a kill and restart; backtest finds its fire time", async () => {
    const tmp = tempDir("vigil-e2e-alert-persist-");
    cleanup.push(() => tmp.cleanup());
    const configFile = join(tmp.path, "server.toml");
    writeFileSync(configFile, RULE);
    const dataDir = join(tmp.path, "data");
    const first = await startServer(dataDir, undefined, "info", ["--config", configFile]);
    cleanup.push(() => first.proc.stop("SIGKILL"));
    const token = first.firstToken as string;
    const api = async (port: number, path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };

    const agentConfig = await enrolledAgentConfig(first, tmp.path, {
      agentId: AGENT_ID,
      procfs: copyFixture("container/proc", join(tmp.path, "proc")),
      extra: memoryOnly(),
    });
    const agent = startNode(AGENT_BIN, ["--config", agentConfig]);
    cleanup.push(() => agent.stop("SIGKILL"));

    const fired = await first.proc.waitForLog("alert firing", 30_000);
    expect(fired).toMatchObject({ rule: "MemoryUsed", agent: AGENT_ID });
    const fingerprint = fired.fingerprint as string;

    // Killed hard: the state was saved when the alert fired, not at shutdown.
    await first.proc.stop("SIGKILL");
    const second = await startServer(
      dataDir,
      { httpPort: first.httpPort, grpcPort: first.grpcPort },
      "info",
      ["--config", configFile],
    );
    cleanup.push(() => second.proc.stop("SIGKILL"));
    expect(await second.proc.waitForLog("alert state restored")).toMatchObject({ firing: 1 });
    const listed = (await api(second.httpPort, "/api/v1/alerts")).alerts as {
      fingerprint: string;
      state: string;
    }[];
    expect(listed).toEqual([expect.objectContaining({ fingerprint, state: "firing" })]);

    // The agent reconnects and keeps the condition true for a while: still one firing notification.
    const restartedAt = Date.now();
    await eventually(
      async () => {
        const agents = (await api(second.httpPort, "/api/v1/agents")).agents as {
          id: string;
          last_seen: number;
        }[];
        return (agents.find((a) => a.id === AGENT_ID)?.last_seen ?? 0) > restartedAt + 3_000;
      },
      30_000,
      "the agent to send to the restarted server for 3 s",
    );
    expect(firingLines([first.proc, second.proc], fingerprint)).toHaveLength(1);
    expect(second.proc.output).not.toContain('"msg":"alert resolved"');
    const history = (await api(second.httpPort, "/api/v1/alerts/history?agent=persist-1")).entries as {
      type: string;
      fingerprint: string;
    }[];
    expect(history.map((h) => [h.type, h.fingerprint])).toEqual([["firing", fingerprint]]);

    // Backtest over the stored samples while the server and agent keep running (it reads the day
    // files read-only), ticks on whole seconds: pending at the first sample, fires 1 s later.
    const samples = readStoredSamples(dataDir, AGENT_ID, "memory_used_percent").sort((a, b) => a.ts - b.ts);
    const t0 = samples[0]?.ts as number;
    expect(samples.some((s) => s.ts === t0 + 1_000)).toBe(true);
    const fromSeconds = String(Math.floor(t0 / 1000) - 60);
    const args = ["rules", "backtest", "--config", configFile, "--rule", "MemoryUsed", "--from", fromSeconds];
    const json = await runCli(SERVER_BIN, [...args, "--json"], second.env);
    expect(json.stderr).toBe("");
    expect(json.code).toBe(0);
    const episodes = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(episodes[0]).toMatchObject({
      rule: "MemoryUsed",
      fingerprint,
      agent: AGENT_ID,
      active_at: t0,
      fired_at: t0 + 1_000,
    });
    const table = await runCli(SERVER_BIN, args, second.env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(new Date(t0 + 1_000).toISOString().replace(".000Z", "Z"));
    expect(table.stdout).toMatch(/^AGENT +FIRED_AT +RESOLVED_AT +FIRING_FOR +VALUE +LABELS$/m);

    const unknown = await runCli(
      SERVER_BIN,
      ["rules", "backtest", "--config", configFile, "--rule", "Nope", "--from", "-1h"],
      second.env,
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no rule named "Nope" in ${configFile} (rules there: MemoryUsed)`);

    // The server kept storing after the backtests, and nothing it wrote failed.
    const before = readStoredSamples(dataDir, AGENT_ID, "memory_used_percent").length;
    await eventually(
      () => readStoredSamples(dataDir, AGENT_ID, "memory_used_percent").length > before + 2,
      20_000,
      "samples stored after the backtests",
    );
    await agent.stop("SIGTERM");
    await second.proc.stop("SIGTERM");
    expect(second.proc.output).not.toContain('"msg":"could not write batches');
    expect(second.proc.output).not.toContain('"level":50');
  });
});
