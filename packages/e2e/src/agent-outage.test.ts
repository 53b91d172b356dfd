import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  cleanupAfterEach,
  copyFixture,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  startNode,
  startServer,
  tempDir,
} from "./harness.js";

const INTERVAL_MS = 200;
/**
 * The issue asks for a 60 s outage at a 1 s interval; 3 s at 200 ms exercises the same paths
 * (ring fills during the outage, resend after reconnect) with 15 ticks of outage, and keeps the
 * suite fast.
 */
const OUTAGE_MS = 3_000;
/** Collectors at the fast interval (~80 samples a tick from the fixture), so a 1,000-sample ring overflows. */
const FAST = ["cpu", "memory", "load", "processes", "filehandles", "pressure", "diskio", "network"];

interface Outcome {
  readonly final: Record<string, number>;
  /** memory_total_bytes timestamps as stored, sorted. */
  readonly ticks: number[];
  readonly stored: number;
  /** When the server had exited (a graceful stop stores what it received until then). */
  readonly killedAt: number;
  readonly restartedAt: number;
}

describe("server outage while the agent runs", () => {
  const cleanups = cleanupAfterEach();

  async function runOutage(agentId: string, maxSamples: number | undefined): Promise<Outcome> {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const proc = copyFixture("this-machine/t0/proc", join(tmp.path, "proc"));
    const dataDir = join(tmp.path, "data");
    let server = await startServer(dataDir);
    const ports = { httpPort: server.httpPort, grpcPort: server.grpcPort };
    cleanups.push(() => server.proc.stop());
    const config = await enrolledAgentConfig(server, tmp.path, {
      agentId,
      procfs: proc,
      extra: `${maxSamples === undefined ? "" : `[buffer]\nmax_samples = ${maxSamples}\n`}
[stream]
flush_interval = "100ms"
# Well under the ring: batches sent and awaiting an ack are dropped last (the server may have
# them), which keeps "dropped = missing" exact only while the ring holds more than the window.
max_in_flight = 4
reconnect_backoff_initial = "50ms"
reconnect_backoff_max = "300ms"

${FAST.map((c) => `[collectors.${c}]\ninterval = "${INTERVAL_MS}ms"\n`).join("\n")}`,
    });
    const agent: Proc = startNode(AGENT_BIN, ["--config", config]);
    cleanups.push(() => agent.stop());
    await eventually(
      () => readStoredSamples(dataDir, agentId, "memory_total_bytes").length >= 5,
      20_000,
      "first samples",
    );
    await server.proc.stop("SIGTERM");
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    server = await startServer(dataDir, ports);
    const restartedAt = Date.now();
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
    const all = readStoredSamples(dataDir, agentId);
    const keys = new Set(all.map((s) => `${s.metric}${JSON.stringify(s.labels)}@${s.ts}`));
    expect(keys.size).toBe(all.length); // nothing stored twice
    const ticks = all
      .filter((s) => s.metric === "memory_total_bytes")
      .map((s) => s.ts)
      .sort((a, b) => a - b);
    return { final, ticks, stored: all.length, killedAt, restartedAt };
  }

  it("with a large ring, stores every sample of the outage exactly once", async () => {
    const { final, ticks, stored, killedAt, restartedAt } = await runOutage("outage-big", undefined);
    expect(final.reconnects).toBeGreaterThanOrEqual(1);
    expect(final.dropped).toBe(0);
    expect(final.held).toBe(0);
    expect(final.acked).toBe(final.collected);
    expect(stored).toBe(final.collected);
    const first = ticks[0] as number;
    const last = ticks[ticks.length - 1] as number;
    expect(ticks.length).toBe((last - first) / INTERVAL_MS + 1);
    expect(first).toBeLessThan(killedAt);
    expect(last).toBeGreaterThan(restartedAt);
  }, 60_000);

  it("with the smallest ring, drops the oldest, and dropped equals exactly what is missing", async () => {
    const { final, ticks, stored, killedAt, restartedAt } = await runOutage("outage-small", 1_000);
    expect(final.held).toBe(0);
    expect(final.rejected).toBe(0);
    expect(final.dropped).toBeGreaterThan(0);
    // Every sample is stored or counted as dropped, never both, never neither.
    expect(stored).toBe((final.collected as number) - (final.dropped as number));
    expect(final.acked).toBe(stored);
    // What is missing lies in the outage, the oldest unacked data: before it and after the
    // reconnect every tick is there. (Usually one run of ticks; batches already sent when the server
    // went away are dropped last, so a second short gap may show.)
    const gaps: [number, number][] = [];
    for (let i = 1; i < ticks.length; i++) {
      const a = ticks[i - 1] as number;
      const b = ticks[i] as number;
      if (b - a !== INTERVAL_MS) gaps.push([a, b]);
    }
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    for (const [gapStart, gapEnd] of gaps) {
      expect(gapStart).toBeGreaterThan(killedAt - 3_000);
      expect(gapEnd).toBeLessThan(restartedAt + 2_000);
    }
    expect(ticks[ticks.length - 1] as number).toBeGreaterThan(restartedAt);
  }, 60_000);
});
