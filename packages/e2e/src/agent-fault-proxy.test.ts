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

const BATCH_MAX_SAMPLES = 10;
const MIN_BATCHES = 1_000;
const FAST = ["cpu", "memory", "load", "processes", "filehandles", "pressure", "diskio", "network"];

describe("agent behind a faulty network", () => {
  const cleanups = cleanupAfterEach();

  it("loses nothing and doubles nothing over 1,000 batches with random cuts and delays", async () => {
    const seed = Number(process.env.VIGIL_FAULT_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const { proc, dataDir, server, dir } = await startFixtureServer(cleanups);
    const proxy = new FaultProxy(server.grpcPort, random, 15);
    const proxyPort = await proxy.listen();
    cleanups.push(() => proxy.close());
    const config = await enrolledAgentConfig(server, dir, {
      agentId: "faulty-1",
      procfs: proc,
      extra: `[stream]
batch_max_samples = ${BATCH_MAX_SAMPLES}
flush_interval = "50ms"
reconnect_backoff_initial = "20ms"
reconnect_backoff_max = "200ms"

${FAST.map((c) => `[collectors.${c}]\ninterval = "100ms"\n`).join("\n")}`,
    });
    const agent: Proc = startNode(AGENT_BIN, ["--config", config], {
      VIGIL_AGENT__SERVER: `127.0.0.1:${proxyPort}`,
    });
    cleanups.push(() => agent.stop());
    await agent.waitForLog("connected to server");

    proxy.chaos();
    // ~80 samples a tick at 100 ms in batches of at most 10: 1,000 batches take about 12.5 s.
    // Stored never exceeds collected, so once this many are stored, at least 1,000 batches went out.
    const chaosDeadline = Date.now() + 60_000;
    const storedSoFar = () => {
      try {
        return readStoredSamples(dataDir, "faulty-1").length;
      } catch {
        return 0; // the day file does not exist until the first batch is written
      }
    };
    while (storedSoFar() < MIN_BATCHES * BATCH_MAX_SAMPLES) {
      if (Date.now() > chaosDeadline) throw new Error(`fewer than ${MIN_BATCHES} batches within 60 s`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    proxy.calm();
    // Let the agent reconnect through the now quiet proxy and catch up, then stop it gracefully.
    const connected = () => {
      const states = agent.lines.filter(
        (l) =>
          l.includes('"msg":"connected to server"') ||
          l.includes('"msg":"stream to server lost; reconnecting"'),
      );
      return states[states.length - 1]?.includes("connected to server") === true;
    };
    await eventually(connected, 15_000, "a connection after the chaos");
    await new Promise((r) => setTimeout(r, 1_500));
    const stopped = await agent.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const final = JSON.parse(
      agent.lines.find((l) => l.includes('"msg":"vigil-agent stopped"')) ?? "{}",
    ) as Record<string, number>;
    const context = `seed ${seed} (VIGIL_FAULT_SEED), ${proxy.cuts} cuts, ${JSON.stringify(final)}`;

    expect(proxy.cuts, context).toBeGreaterThanOrEqual(5);
    expect(final.reconnects, context).toBeGreaterThanOrEqual(5);
    // Cuts with batches in flight made the agent send some twice; the server stored them once.
    expect(final.resent, context).toBeGreaterThan(0);
    expect(final.dropped, context).toBe(0);
    expect(final.rejected, context).toBe(0);
    expect(final.held, context).toBe(0);
    expect(final.acked, context).toBe(final.collected);
    // Every batch holds at most BATCH_MAX_SAMPLES samples, so this many samples took at least 1,000 batches.
    expect(final.collected as number, context).toBeGreaterThanOrEqual(MIN_BATCHES * BATCH_MAX_SAMPLES);

    const stored = readStoredSamples(dataDir, "faulty-1");
    const keys = new Set(stored.map((s) => `${s.metric}${JSON.stringify(s.labels)}@${s.ts}`));
    expect(keys.size, context).toBe(stored.length);
    expect(stored.length, context).toBe(final.collected);
  }, 120_000);
});
