import { describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  cleanupAfterEach,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  startFixtureServer,
  startNode,
} from "./harness.js";

const INTERVAL_MS = 200;

describe("server killed mid-stream", () => {
  const cleanups = cleanupAfterEach();

  it("stores every sample the agent produced exactly once after SIGKILL and restart", async () => {
    const fixture = await startFixtureServer(cleanups);
    const { proc, dataDir } = fixture;
    let server = fixture.server;
    const config = await enrolledAgentConfig(server, fixture.dir, {
      agentId: "crash-1",
      procfs: proc,
      extra: `[stream]
flush_interval = "100ms"
reconnect_backoff_initial = "50ms"
reconnect_backoff_max = "400ms"

[collectors.cpu]
interval = "${INTERVAL_MS}ms"

[collectors.memory]
interval = "${INTERVAL_MS}ms"
`,
    });
    const agent: Proc = startNode(AGENT_BIN, ["--config", config]);
    cleanups.push(() => agent.stop());

    await eventually(
      () => readStoredSamples(dataDir, "crash-1", "memory_total_bytes").length >= 5,
      20_000,
      "first samples",
    );
    const killed = await server.proc.stop("SIGKILL");
    expect(killed.signal).toBe("SIGKILL");
    // The agent keeps collecting into its ring while the server is gone.
    await new Promise((r) => setTimeout(r, 1_500));
    server = await fixture.restart();
    await agent.waitForLine(
      (l) =>
        l.includes('"msg":"connected to server"') &&
        agent.lines.filter((x) => x.includes('"msg":"connected to server"')).length >= 2,
    );
    await new Promise((r) => setTimeout(r, 1_000));

    const stopped = await agent.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const final = JSON.parse(
      agent.lines.find((l) => l.includes('"msg":"vigil-agent stopped"')) ?? "{}",
    ) as Record<string, number>;
    expect(final.reconnects).toBeGreaterThanOrEqual(1);
    expect(final.dropped).toBe(0);
    expect(final.rejected).toBe(0);
    expect(final.held).toBe(0);
    expect(final.acked).toBe(final.collected);

    const stored = readStoredSamples(dataDir, "crash-1");
    // Exactly once: the day file holds as many rows as the agent produced (the primary key forbids doubles).
    expect(stored.length).toBe(final.collected);
    // Nothing lost: memory_total_bytes has a sample at every tick from the first to the last.
    const ticks = stored.filter((s) => s.metric === "memory_total_bytes").map((s) => s.ts);
    const first = ticks[0] as number;
    const last = ticks[ticks.length - 1] as number;
    expect(ticks.length).toBe((last - first) / INTERVAL_MS + 1);
    expect(last - first).toBeGreaterThan(2_500); // the outage is inside the range
  });
});
