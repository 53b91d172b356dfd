import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One proxied connection; `dead` ones swallow everything (blackhole). */
interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: DelayPipe[];
  dead: boolean;
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
export class FaultProxy {
  private readonly server: Server;
  private readonly links = new Set<Link>();
  private cutTimer: NodeJS.Timeout | undefined;
  /** While true, bytes are accepted both ways and forwarded nowhere: a peer that vanished without a FIN or RST. */
  private blackholed = false;
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

  /**
   * Blackholes the network: every open connection and every new one accepts bytes and forwards
   * none, so only keepalive can tell the connection is dead. Connections already blackholed stay
   * so after `heal()` (their bytes are lost, as they would be); new ones are forwarded again.
   */
  blackhole(): void {
    this.blackholed = true;
    for (const link of this.links) {
      link.dead = true;
      for (const pipe of link.pipes) pipe.close();
    }
  }

  heal(): void {
    this.blackholed = false;
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
    const link: Link = { client, upstream, pipes: [toServer, toAgent], dead: this.blackholed };
    this.links.add(link);
    client.on("data", (d: Buffer) => {
      if (!link.dead) toServer.push(d);
    });
    upstream.on("data", (d: Buffer) => {
      if (!link.dead) toAgent.push(d);
    });
    for (const s of [client, upstream]) {
      s.on("error", () => this.drop(link));
      s.on("close", () => this.drop(link));
    }
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    for (const p of link.pipes) p.close();
    link.client.destroy();
    link.upstream.destroy();
  }
}
