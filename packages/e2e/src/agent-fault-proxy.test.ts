import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
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

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Forwards one direction of a connection, each chunk held back a random time, order kept. */
class DelayPipe {
  private readonly queue: { at: number; chunk: Buffer }[] = [];
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dest: Socket,
    private readonly maxDelayMs: number,
    private readonly random: () => number,
  ) {}

  push(chunk: Buffer): void {
    const at = Math.max(this.last, Date.now() + this.random() * this.maxDelayMs);
    this.last = at;
    this.queue.push({ at, chunk });
    this.arm();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
  }

  private arm(): void {
    const next = this.queue[0];
    if (this.timer || !next) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        while (this.queue[0] && (this.queue[0].at <= Date.now() || this.queue[0].at === next.at)) {
          const item = this.queue.shift();
          if (item && !this.dest.destroyed) this.dest.write(item.chunk);
        }
        this.arm();
      },
      Math.max(0, next.at - Date.now()),
    );
  }
}

/**
 * A TCP proxy on 127.0.0.1 that delays every chunk both ways (so acks arrive late and batches are
 * in flight when the cut comes) and, while `chaos` is on, cuts every connection at random moments.
 */
class FaultProxy {
  private readonly server: Server;
  private readonly links = new Set<{ client: Socket; upstream: Socket; pipes: DelayPipe[] }>();
  private cutTimer: NodeJS.Timeout | undefined;
  cuts = 0;

  constructor(
    private readonly targetPort: number,
    private readonly random: () => number,
    private readonly maxDelayMs: number,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  listen(): Promise<number> {
    return new Promise((res) =>
      this.server.listen(0, "127.0.0.1", () => res((this.server.address() as { port: number }).port)),
    );
  }

  /** Cuts every open connection after a random 200–1,000 ms, again and again, until `calm`. */
  chaos(): void {
    const next = () => {
      this.cutTimer = setTimeout(
        () => {
          this.cutAll();
          next();
        },
        200 + this.random() * 800,
      );
    };
    next();
  }

  calm(): void {
    if (this.cutTimer) clearTimeout(this.cutTimer);
    this.cutTimer = undefined;
  }

  cutAll(): void {
    if (this.links.size > 0) this.cuts++;
    for (const link of this.links) this.drop(link);
  }

  close(): Promise<void> {
    this.calm();
    this.cutAll();
    return new Promise((res) => this.server.close(() => res()));
  }

  private accept(client: Socket): void {
    const upstream = tcpConnect(this.targetPort, "127.0.0.1");
    const toServer = new DelayPipe(upstream, this.maxDelayMs, this.random);
    const toAgent = new DelayPipe(client, this.maxDelayMs, this.random);
    const link = { client, upstream, pipes: [toServer, toAgent] };
    this.links.add(link);
    client.on("data", (d: Buffer) => toServer.push(d));
    upstream.on("data", (d: Buffer) => toAgent.push(d));
    for (const s of [client, upstream]) {
      s.on("error", () => this.drop(link));
      s.on("close", () => this.drop(link));
    }
  }

  private drop(link: { client: Socket; upstream: Socket; pipes: DelayPipe[] }): void {
    if (!this.links.delete(link)) return;
    for (const p of link.pipes) p.close();
    link.client.destroy();
    link.upstream.destroy();
  }
}

const BATCH_MAX_SAMPLES = 10;
const FAST = ["cpu", "memory", "load", "processes", "filehandles", "pressure", "diskio", "network"];

describe("agent behind a faulty network", () => {
  const cleanups = cleanupAfterEach();

  it("loses nothing and doubles nothing over hundreds of batches with random cuts and delays", async () => {
    const seed = Number(process.env.VIGIL_FAULT_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const proc = copyFixture("this-machine/t0/proc", join(tmp.path, "proc"));
    const dataDir = join(tmp.path, "data");
    const server = await startServer(dataDir);
    cleanups.push(() => server.proc.stop());
    const proxy = new FaultProxy(server.grpcPort, random, 15);
    const proxyPort = await proxy.listen();
    cleanups.push(() => proxy.close());
    const config = await enrolledAgentConfig(server, tmp.path, {
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
    await new Promise((r) => setTimeout(r, 8_000));
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
    // Every batch holds at most BATCH_MAX_SAMPLES samples, so this many samples took at least 300 batches.
    expect(final.collected as number, context).toBeGreaterThanOrEqual(300 * BATCH_MAX_SAMPLES);

    const stored = readStoredSamples(dataDir, "faulty-1");
    const keys = new Set(stored.map((s) => `${s.metric}${JSON.stringify(s.labels)}@${s.ts}`));
    expect(keys.size, context).toBe(stored.length);
    expect(stored.length, context).toBe(final.collected);
  }, 60_000);
});
