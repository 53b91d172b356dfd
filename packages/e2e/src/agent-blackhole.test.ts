import { describe, expect, it } from "vitest";
import { FaultProxy, prng } from "./fault-proxy.js";
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

/** The shortest keepalive the server permits (GRPC_SERVER_OPTIONS), and a short timeout. */
const KEEPALIVE_TIME_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 2_000;
/** Timers, process scheduling on a shared CI machine, the log line. */
const SLACK_MS = 3_000;

const count = (agent: Proc, msg: string) => agent.lines.filter((l) => l.includes(`"msg":"${msg}"`)).length;

describe("blackholed server (connection open, nothing answers)", () => {
  const cleanups = cleanupAfterEach();

  it("is detected within keepalive time + timeout, and the agent reconnects when the network heals, losing nothing", async () => {
    const { proc, dataDir, server, dir } = await startFixtureServer(cleanups);
    const proxy = new FaultProxy(server.grpcPort, prng(1), 0);
    const proxyPort = await proxy.listen();
    cleanups.push(() => proxy.close());
    const config = await enrolledAgentConfig(server, dir, {
      agentId: "blackhole-1",
      procfs: proc,
      extra: `[stream]
flush_interval = "200ms"
reconnect_backoff_initial = "100ms"
reconnect_backoff_max = "500ms"
keepalive_time = "${KEEPALIVE_TIME_MS / 1000}s"
keepalive_timeout = "${KEEPALIVE_TIMEOUT_MS / 1000}s"

[collectors.memory]
interval = "500ms"
[collectors.load]
interval = "500ms"
`,
    });
    const agent = startNode(AGENT_BIN, ["--config", config], {
      VIGIL_AGENT__SERVER: `127.0.0.1:${proxyPort}`,
    });
    cleanups.push(() => agent.stop());
    await agent.waitForLog("connected to server");
    await eventually(
      () => readStoredSamples(dataDir, "blackhole-1", "memory_total_bytes").length >= 3,
      20_000,
      "first samples",
    );

    const lostBefore = count(agent, "stream to server lost; reconnecting");
    const connectedBefore = count(agent, "connected to server");
    const blackholedAt = Date.now();
    proxy.blackhole();
    await eventually(
      () => count(agent, "stream to server lost; reconnecting") > lostBefore,
      KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 15_000,
      "the agent noticing the dead connection",
    );
    const lost = agent
      .logEntries()
      .filter((e) => e.msg === "stream to server lost; reconnecting")
      .at(lostBefore) as { time: number; reason: string };
    const detectedAfterMs = lost.time - blackholedAt;
    expect(detectedAfterMs, lost.reason).toBeLessThanOrEqual(
      KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + SLACK_MS,
    );

    proxy.heal();
    await eventually(
      () => count(agent, "connected to server") > connectedBefore,
      // A reconnect attempt made while still blackholed waits out the welcome timeout (10 s).
      20_000 + KEEPALIVE_TIMEOUT_MS,
      "a new stream after the network healed",
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nagent:\n${agent.lines.slice(-15).join("\n")}`);
    });
    await new Promise((r) => setTimeout(r, 1_500));
    const stopped = await agent.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const final = JSON.parse(
      agent.lines.find((l) => l.includes('"msg":"vigil-agent stopped"')) ?? "{}",
    ) as Record<string, number>;
    const context = `detected after ${detectedAfterMs} ms (${lost.reason}); ${JSON.stringify(final)}`;
    expect(final.reconnects, context).toBeGreaterThanOrEqual(1);
    // The batches written into the blackhole were never acked: they were sent again, not lost.
    expect(final.resent, context).toBeGreaterThan(0);
    expect(final.dropped, context).toBe(0);
    expect(final.held, context).toBe(0);
    expect(final.acked, context).toBe(final.collected);
    const stored = readStoredSamples(dataDir, "blackhole-1");
    const keys = new Set(stored.map((s) => `${s.metric}${JSON.stringify(s.labels)}@${s.ts}`));
    expect(keys.size, context).toBe(stored.length);
    expect(stored.length, context).toBe(final.collected);
  }, 90_000);
});
