import { join } from "node:path";
import { expect } from "vitest";
import {
  AGENT_BIN,
  copyFixture,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  type ServerHandle,
  startNode,
  startServer,
  tempDir,
} from "./harness.js";

/** Collectors at the fast interval (~80 samples a tick from the fixture). */
const FAST = ["cpu", "memory", "load", "processes", "filehandles", "pressure", "diskio", "network"];

export interface OutageOptions {
  readonly agentId: string;
  /** `buffer.max_samples`, or the default. */
  readonly maxSamples: number | undefined;
  readonly intervalMs: number;
  readonly outageMs: number;
  /** How long the agent runs after reconnecting before it is stopped. */
  readonly afterMs: number;
  /** Registers a cleanup (the test's cleanupAfterEach). */
  readonly cleanup: (fn: () => unknown) => void;
}

export interface Outcome {
  readonly final: Record<string, number>;
  /** memory_total_bytes timestamps as stored, sorted. */
  readonly ticks: number[];
  readonly stored: number;
  /** When the server had exited (a graceful stop stores what it received until then). */
  readonly killedAt: number;
  readonly restartedAt: number;
  /** When the agent logged its second "connected to server". */
  readonly reconnectedAt: number;
  readonly dataDir: string;
}

/**
 * Runs a real agent against a real server on loopback, stops the server (SIGTERM) for `outageMs`,
 * starts it again on the same ports, lets the agent catch up, stops the agent, and reads back what
 * was stored. Asserts that nothing was stored twice.
 */
export async function runOutage(opts: OutageOptions): Promise<Outcome> {
  const tmp = tempDir();
  opts.cleanup(tmp.cleanup);
  const proc = copyFixture("this-machine/t0/proc", join(tmp.path, "proc"));
  const dataDir = join(tmp.path, "data");
  let server: ServerHandle = await startServer(dataDir);
  const ports = { httpPort: server.httpPort, grpcPort: server.grpcPort };
  opts.cleanup(() => server.proc.stop());
  const config = await enrolledAgentConfig(server, tmp.path, {
    agentId: opts.agentId,
    procfs: proc,
    extra: `${opts.maxSamples === undefined ? "" : `[buffer]\nmax_samples = ${opts.maxSamples}\n`}
[stream]
flush_interval = "100ms"
# Well under the ring: batches sent and awaiting an ack are dropped last (the server may have
# them), which keeps "dropped = missing" exact only while the ring holds more than the window.
max_in_flight = 4
reconnect_backoff_initial = "50ms"
reconnect_backoff_max = "300ms"

${FAST.map((c) => `[collectors.${c}]\ninterval = "${opts.intervalMs}ms"\n`).join("\n")}`,
  });
  const agent: Proc = startNode(AGENT_BIN, ["--config", config]);
  opts.cleanup(() => agent.stop());
  await eventually(
    () => readStoredSamples(dataDir, opts.agentId, "memory_total_bytes").length >= 3,
    20_000,
    "first samples",
  );
  await server.proc.stop("SIGTERM");
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, opts.outageMs));
  server = await startServer(dataDir, ports);
  const restartedAt = Date.now();
  const connected = await agent.waitForLine(
    (l) =>
      l.includes('"msg":"connected to server"') &&
      agent.lines.filter((x) => x.includes('"msg":"connected to server"')).length >= 2,
  );
  const reconnectedAt = (JSON.parse(connected) as { time: number }).time;
  await new Promise((r) => setTimeout(r, opts.afterMs));
  const stopped = await agent.stop("SIGTERM");
  expect(stopped.code).toBe(0);
  const final = JSON.parse(
    agent.lines.find((l) => l.includes('"msg":"vigil-agent stopped"')) ?? "{}",
  ) as Record<string, number>;
  const all = readStoredSamples(dataDir, opts.agentId);
  const keys = new Set(all.map((s) => `${s.metric}${JSON.stringify(s.labels)}@${s.ts}`));
  expect(keys.size).toBe(all.length); // nothing stored twice
  const ticks = all
    .filter((s) => s.metric === "memory_total_bytes")
    .map((s) => s.ts)
    .sort((a, b) => a - b);
  return { final, ticks, stored: all.length, killedAt, restartedAt, reconnectedAt, dataDir };
}
