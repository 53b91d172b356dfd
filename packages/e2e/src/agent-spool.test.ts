import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  cleanupAfterEach,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  type StoredSample,
  startFixtureServer,
  startNode,
} from "./harness.js";

const INTERVAL_MS = 200;

/** Sorted timestamps of one metric, failing on any sample stored twice. */
function ticksOnce(stored: readonly StoredSample[], metric: string): number[] {
  const keys = stored.map((s) => `${s.metric}${JSON.stringify(s.labels)}@${s.ts}`);
  expect(new Set(keys).size).toBe(keys.length);
  return stored
    .filter((s) => s.metric === metric)
    .map((s) => s.ts)
    .sort((a, b) => a - b);
}

/** Ticks `first..last` with no gap at `INTERVAL_MS`. */
function expectContiguous(ticks: readonly number[]): void {
  expect(ticks.length).toBeGreaterThan(0);
  const first = ticks[0] as number;
  const last = ticks[ticks.length - 1] as number;
  expect(ticks.length).toBe((last - first) / INTERVAL_MS + 1);
}

describe("agent spool", () => {
  const cleanups = cleanupAfterEach();

  it("keeps unacked batches across a SIGKILL of the agent and sends them once after restart", async () => {
    const fixture = await startFixtureServer(cleanups);
    const { proc, dataDir } = fixture;
    let server = fixture.server;
    const config = await enrolledAgentConfig(server, fixture.dir, {
      agentId: "spool-1",
      procfs: proc,
      extra: `[buffer]
spool_dir = "spool"

[stream]
flush_interval = "100ms"
reconnect_backoff_initial = "50ms"
reconnect_backoff_max = "400ms"

[collectors.cpu]
interval = "${INTERVAL_MS}ms"

[collectors.memory]
interval = "${INTERVAL_MS}ms"
`,
    });
    const spoolDir = join(fixture.dir, "spool");
    let agent: Proc = startNode(AGENT_BIN, ["--config", config]);
    cleanups.push(() => agent.stop());

    await eventually(
      () => readStoredSamples(dataDir, "spool-1", "memory_total_bytes").length >= 5,
      20_000,
      "first samples",
    );
    expect(statSync(spoolDir).mode & 0o777).toBe(0o700);
    const serverKilledAt = Date.now();
    expect((await server.proc.stop("SIGKILL")).signal).toBe("SIGKILL");
    // The agent collects into its ring and its spool while the server is gone…
    await new Promise((r) => setTimeout(r, 1_500));
    // …and is killed without a chance to flush.
    const agentKilledAt = Date.now();
    expect((await agent.stop("SIGKILL")).signal).toBe("SIGKILL");
    const spooled = readdirSync(spoolDir).filter((f) => f.endsWith(".batch"));
    expect(spooled.length).toBeGreaterThan(5);

    server = await fixture.restart();
    const restartedAt = Date.now();
    agent = startNode(AGENT_BIN, ["--config", config]);
    const loaded = await agent.waitForLog("spool loaded");
    expect(loaded.batches).toBeGreaterThanOrEqual(spooled.length - 1); // the last may have been a .tmp
    expect(loaded.samples).toBeGreaterThan(0);
    expect(loaded.dropped).toBe(0);
    await agent.waitForLog("connected to server");
    await eventually(
      () =>
        readStoredSamples(dataDir, "spool-1", "memory_total_bytes").some((s) => s.ts > restartedAt + 1_000),
      20_000,
      "samples of the restarted agent",
    );

    const stopped = await agent.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const final = JSON.parse(
      agent.lines.find((l) => l.includes('"msg":"vigil-agent stopped"')) ?? "{}",
    ) as Record<string, number>;
    expect(final.dropped).toBe(0);
    expect(final.rejected).toBe(0);
    expect(final.held).toBe(0);
    expect(final.acked).toBe(final.collected);
    expect(readdirSync(spoolDir).filter((f) => f.endsWith(".batch"))).toEqual([]);

    const ticks = ticksOnce(readStoredSamples(dataDir, "spool-1"), "memory_total_bytes");
    const before = ticks.filter((t) => t < restartedAt);
    const after = ticks.filter((t) => t >= restartedAt);
    // The first agent's life: every tick from its first to its last, the server outage included.
    expectContiguous(before);
    const lastBefore = before[before.length - 1] as number;
    expect(lastBefore).toBeGreaterThan(serverKilledAt + 1_000);
    // Only the samples of its last flush interval (not yet sealed, so not spooled) may be missing.
    expect(lastBefore).toBeGreaterThanOrEqual(agentKilledAt - 2 * INTERVAL_MS - 100);
    expectContiguous(after);
    // Stored exactly once: the restarted agent's acked samples are its restored ones plus its own.
    const afterAll = readStoredSamples(dataDir, "spool-1").filter((s) => s.ts >= restartedAt).length;
    expect((final.collected as number) - (loaded.samples as number)).toBe(afterAll);
  }, 60_000);
});
