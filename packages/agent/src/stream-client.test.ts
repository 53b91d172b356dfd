import { create } from "@bufbuild/protobuf";
import { type Metadata, Server, ServerCredentials, type ServerDuplexStream, status } from "@grpc/grpc-js";
import type { Sample, SeriesSamples } from "@vigil/common";
import {
  AckSchema,
  type Decoded,
  decodeBatch,
  ErrorCode,
  ErrorSchema,
  type Hello,
  type IngestServiceHandlers,
  ingestServerDefinition,
  type StreamRequest,
  type StreamResponse,
  StreamResponseSchema,
  ThrottleSchema,
  WelcomeSchema,
} from "@vigil/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BatchQueue } from "./batch-queue.js";
import { StreamClient, type StreamClientOptions } from "./stream-client.js";
import { captureLogger, LEVEL } from "./test-support.js";

type StreamCall = ServerDuplexStream<Decoded<StreamRequest>, StreamResponse>;

/** One stream as the test server saw it. */
class Conn {
  hello: Hello | undefined;
  readonly batches: { seq: number; series: SeriesSamples[] }[] = [];
  cancelled = false;
  constructor(
    readonly call: StreamCall,
    readonly metadata: Metadata,
  ) {}
  get seqs(): number[] {
    return this.batches.map((b) => b.seq);
  }
  private send(frame: StreamResponse["frame"]) {
    this.call.write(create(StreamResponseSchema, { frame }));
  }
  welcome() {
    this.send({
      case: "welcome",
      value: create(WelcomeSchema, { serverVersion: "test-server", maxMessageBytes: 1 << 22 }),
    });
  }
  ack(seq: number) {
    this.send({ case: "ack", value: create(AckSchema, { seq, accepted: 1, duplicates: 0 }) });
  }
  error(seq: number, code: ErrorCode, message: string) {
    this.send({ case: "error", value: create(ErrorSchema, { seq, code, message }) });
  }
  throttle(delayMs: number) {
    this.send({ case: "throttle", value: create(ThrottleSchema, { delayMs, reason: "busy" }) });
  }
  /** Ends the stream with a gRPC status, as the real ingest service does. */
  fail(code: status, details: string) {
    this.call.emit("error", { code, details });
  }
}

/** A real grpc-js server on 127.0.0.1:0 speaking vigil.v1.IngestService, scripted per test. */
class TestIngestServer {
  readonly conns: Conn[] = [];
  onHello: (conn: Conn) => void = (conn) => conn.welcome();
  onBatch: (conn: Conn, seq: number) => void = (conn, seq) => conn.ack(seq);
  private readonly server = new Server();
  address = "";

  async start(): Promise<void> {
    const handlers: IngestServiceHandlers = {
      stream: (call: StreamCall) => {
        const conn = new Conn(call, call.metadata);
        this.conns.push(conn);
        call.on("data", (req: Decoded<StreamRequest>) => {
          if (!req.ok) throw new Error(`test server got an undecodable frame: ${req.error}`);
          const frame = req.message.frame;
          if (frame.case === "hello") {
            conn.hello = frame.value;
            this.onHello(conn);
          } else if (frame.case === "batch") {
            conn.batches.push({ seq: frame.value.seq, series: decodeBatch(frame.value) });
            this.onBatch(conn, frame.value.seq);
          }
        });
        call.on("cancelled", () => {
          conn.cancelled = true;
        });
        call.on("error", () => {});
      },
      register: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: "not in this test" }),
    };
    this.server.addService(ingestServerDefinition, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.address = `127.0.0.1:${port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

const WAIT = { timeout: 10_000, interval: 5 };

function samples(ids: readonly number[]): Sample[] {
  return ids.map((id) => ({
    metric: "test_metric",
    labels: { n: String(id % 2) },
    value: id,
    ts: 1_000_000 + id,
  }));
}

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.reverse()) fn();
  cleanup = [];
});

async function setup(opts: { maxInFlight?: number; batchMax?: number; now?: () => number } = {}) {
  const server = new TestIngestServer();
  await server.start();
  const queue = new BatchQueue(100_000, opts.batchMax ?? 2);
  const { logger, lines } = captureLogger();
  const options: StreamClientOptions = {
    address: server.address,
    apiKey: "vga_test-key",
    agentId: "agent-1",
    hostname: "host-1",
    version: "9.9.9",
    labels: { env: "test" },
    maxInFlight: opts.maxInFlight ?? 16,
    backoffInitialMs: 2,
    backoffMaxMs: 10,
    logger,
  };
  const client = new StreamClient(queue, options, opts.now);
  cleanup.push(
    () => server.stop(),
    () => client.stop(),
  );
  return { server, queue, client, lines };
}

/** The series the test put into batch `seq` when batches hold `batchMax` samples each. */
function expectedSeries(ids: number[]): SeriesSamples[] {
  const bySeries = new Map<string, { timestamps: number[]; values: number[] }>();
  for (const id of ids) {
    const key = String(id % 2);
    const entry = bySeries.get(key) ?? { timestamps: [], values: [] };
    entry.timestamps.push(1_000_000 + id);
    entry.values.push(id);
    bySeries.set(key, entry);
  }
  return [...bySeries].map(([n, e]) => ({ metric: "test_metric", labels: { n }, ...e }));
}

describe("StreamClient", () => {
  it("says hello with the agent's identity and key, sends every batch, and drops batches on ack", async () => {
    const { server, queue, client, lines } = await setup({ batchMax: 2 });
    queue.add(samples([1, 2, 3, 4, 5]));
    expect(queue.seal()).toBe(3);
    client.start();
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);

    expect(server.conns).toHaveLength(1);
    const conn = server.conns[0] as Conn;
    expect(conn.metadata.get("authorization")).toEqual(["Bearer vga_test-key"]);
    expect(conn.hello).toMatchObject({
      agentId: "agent-1",
      hostname: "host-1",
      version: "9.9.9",
      labels: { env: "test" },
    });
    expect(conn.batches).toEqual([
      { seq: 1, series: expectedSeries([1, 2]) },
      { seq: 2, series: expectedSeries([3, 4]) },
      { seq: 3, series: expectedSeries([5]) },
    ]);
    expect(queue.stats()).toEqual({ collected: 5, acked: 5, dropped: 0, rejected: 0, held: 0 });
    expect(client.drained).toBe(true);
    expect(client.reconnectCount).toBe(0);
    expect(lines.find((l) => l.msg === "connected to server")).toMatchObject({
      level: LEVEL.info,
      serverVersion: "test-server",
      server: server.address,
    });
  });

  it("sends batches sealed after the connection is up when pumped", async () => {
    const { server, queue, client, lines } = await setup();
    client.start();
    await vi.waitFor(() => expect(lines.some((l) => l.msg === "connected to server")).toBe(true), WAIT);
    queue.add(samples([7]));
    queue.seal();
    client.pump();
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);
    expect(server.conns[0]?.batches).toEqual([{ seq: 1, series: expectedSeries([7]) }]);
  });

  it("keeps at most maxInFlight batches unacknowledged and sends the next one per ack", async () => {
    const { server, queue, client } = await setup({ maxInFlight: 2, batchMax: 1 });
    server.onBatch = () => {};
    queue.add(samples([1, 2, 3, 4, 5]));
    queue.seal();
    client.start();
    await vi.waitFor(() => expect(server.conns[0]?.seqs).toEqual([1, 2]), WAIT);
    // the client decided synchronously when the welcome came: two in flight, three waiting
    expect(queue.inFlightCount).toBe(2);
    expect(queue.takeUnsent(10).map((b) => b.seq)).toEqual([3, 4, 5]);

    const conn = server.conns[0] as Conn;
    conn.ack(2);
    await vi.waitFor(() => expect(conn.seqs).toEqual([1, 2, 3]), WAIT);
    expect(queue.inFlightCount).toBe(2);
    expect(queue.stats().acked).toBe(1);

    server.onBatch = (c, seq) => c.ack(seq);
    conn.ack(1);
    conn.ack(3);
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);
    expect(conn.seqs).toEqual([1, 2, 3, 4, 5]);
  });

  it("reconnects after the server errors the stream and resends exactly the unacknowledged batches", async () => {
    const { server, queue, client, lines } = await setup({ batchMax: 1 });
    server.onBatch = (conn, seq) => {
      if (server.conns.length > 1) return conn.ack(seq);
      if (seq === 1) conn.ack(1);
      if (conn.batches.length === 3) setImmediate(() => conn.fail(status.UNAVAILABLE, "going away"));
    };
    queue.add(samples([1, 2, 3]));
    queue.seal();
    client.start();
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);

    expect(server.conns).toHaveLength(2);
    const [first, second] = server.conns as [Conn, Conn];
    expect(first.seqs).toEqual([1, 2, 3]);
    // a fresh hello, then only what was not acked, with the same content
    expect(second.hello?.agentId).toBe("agent-1");
    expect(second.batches).toEqual(first.batches.slice(1));
    expect(queue.stats()).toEqual({ collected: 3, acked: 3, dropped: 0, rejected: 0, held: 0 });
    expect(client.reconnectCount).toBe(1);
    const lost = lines.filter((l) => l.msg === "stream to server lost; reconnecting");
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ level: LEVEL.warn, reason: "going away" });
    expect(lost[0]?.retryInMs).toBeGreaterThanOrEqual(0);
    expect(lost[0]?.retryInMs).toBeLessThanOrEqual(2);
  });

  it("reconnects when the server ends the stream cleanly", async () => {
    const { server, queue, client, lines } = await setup({ batchMax: 1 });
    server.onBatch = (conn, seq) => {
      if (server.conns.length > 1) conn.ack(seq);
      else conn.call.end();
    };
    queue.add(samples([1]));
    queue.seal();
    client.start();
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);
    expect(server.conns.map((c) => c.seqs)).toEqual([[1], [1]]);
    expect(lines.find((l) => l.msg === "stream to server lost; reconnecting")?.reason).toBe(
      "server closed the stream",
    );
  });

  it("drops a batch the server refuses as INVALID_BATCH and counts it as rejected", async () => {
    const { server, queue, client, lines } = await setup({ batchMax: 2 });
    server.onBatch = (conn, seq) => {
      if (seq === 2) conn.error(2, ErrorCode.INVALID_BATCH, "series 0: invalid metric name");
      else conn.ack(seq);
    };
    queue.add(samples([1, 2, 3, 4, 5]));
    queue.seal();
    client.start();
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);
    expect(queue.stats()).toEqual({ collected: 5, acked: 3, dropped: 0, rejected: 2, held: 0 });
    // never resent, on this stream or another
    expect(server.conns.map((c) => c.seqs)).toEqual([[1, 2, 3]]);
    expect(lines.filter((l) => l.level === LEVEL.error)).toEqual([
      expect.objectContaining({
        msg: "server rejected a batch as invalid; dropped it",
        seq: 2,
        samples: 2,
        reason: "series 0: invalid metric name",
      }),
    ]);
  });

  it("resends a batch the server could not store (INTERNAL) on the same stream", async () => {
    const { server, queue, client, lines } = await setup({ batchMax: 1 });
    let refused = false;
    server.onBatch = (conn, seq) => {
      if (seq === 1 && !refused) {
        refused = true;
        conn.error(1, ErrorCode.INTERNAL, "disk full");
      } else conn.ack(seq);
    };
    queue.add(samples([1, 2]));
    queue.seal();
    client.start();
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);
    expect(server.conns).toHaveLength(1);
    expect(server.conns[0]?.seqs).toEqual([1, 2, 1]);
    expect(queue.stats()).toEqual({ collected: 2, acked: 2, dropped: 0, rejected: 0, held: 0 });
    expect(lines.find((l) => l.msg === "server could not store a batch; will resend")).toMatchObject({
      level: LEVEL.warn,
      seq: 1,
      reason: "disk full",
    });
  });

  it("holds batches back while throttled and sends them once the delay has passed by its clock", async () => {
    let clock = 5_000_000;
    const { server, queue, client, lines } = await setup({ now: () => clock });
    server.onHello = (conn) => {
      conn.welcome();
      conn.throttle(40);
    };
    client.start();
    await vi.waitFor(() => expect(lines.some((l) => l.msg === "server asked to slow down")).toBe(true), WAIT);
    expect(lines.find((l) => l.msg === "server asked to slow down")).toMatchObject({
      level: LEVEL.warn,
      delayMs: 40,
      reason: "busy",
    });

    queue.add(samples([1]));
    queue.seal();
    client.pump();
    // throttled: nothing written
    expect(queue.inFlightCount).toBe(0);
    expect(queue.takeUnsent(5).map((b) => b.seq)).toEqual([1]);
    clock += 39;
    client.pump();
    expect(queue.inFlightCount).toBe(0);

    // the delay passes by the client's clock; the pump it scheduled sends the batch
    clock += 1;
    await vi.waitFor(() => expect(queue.isEmpty).toBe(true), WAIT);
    expect(server.conns[0]?.seqs).toEqual([1]);
  });

  it("logs a refused key at error level and keeps retrying", async () => {
    const { server, client, lines } = await setup();
    server.onHello = (conn) => conn.fail(status.UNAUTHENTICATED, "missing, unknown or revoked API key");
    client.start();
    await vi.waitFor(() => expect(server.conns.length).toBeGreaterThanOrEqual(3), WAIT);
    const lost = lines.filter((l) => l.msg === "stream to server lost; reconnecting");
    expect(lost[0]).toMatchObject({ level: LEVEL.error, reason: "missing, unknown or revoked API key" });
    expect(client.reconnectCount).toBeGreaterThanOrEqual(2);
  });

  it("cancels its stream on stop", async () => {
    const { server, client, lines } = await setup();
    client.start();
    await vi.waitFor(() => expect(lines.some((l) => l.msg === "connected to server")).toBe(true), WAIT);
    client.stop();
    await vi.waitFor(() => expect(server.conns[0]?.cancelled).toBe(true), WAIT);
    expect(server.conns).toHaveLength(1);
    expect(lines.some((l) => l.msg === "stream to server lost; reconnecting")).toBe(false);
  });
});
