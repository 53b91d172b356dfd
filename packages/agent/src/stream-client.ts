import { create } from "@bufbuild/protobuf";
import { type ClientDuplexStream, credentials, Metadata, status } from "@grpc/grpc-js";
import type { Logger } from "@vigil/common";
import {
  AUTHORIZATION_METADATA_KEY,
  createIngestClient,
  ErrorCode,
  encodeBatch,
  type IngestClient,
  type StreamRequest,
  StreamRequestSchema,
  type StreamResponse,
} from "@vigil/protocol";
import { Backoff } from "./backoff.js";
import type { BatchQueue } from "./batch-queue.js";

export interface StreamClientOptions {
  readonly address: string;
  readonly apiKey: string;
  readonly agentId: string;
  readonly hostname: string;
  readonly version: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly maxInFlight: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly logger: Logger;
}

/** The server must answer a hello within this long, or the stream is dropped and reopened. */
const WELCOME_TIMEOUT_MS = 10_000;
/** Keepalive: ping every 30 s, give up after 10 s without an answer (the server permits pings down to 10 s). */
const CHANNEL_OPTIONS = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
};

type State = "idle" | "connecting" | "ready" | "backoff" | "stopped";

/**
 * Streams the queue's batches to the server over one bidirectional gRPC stream.
 * States: idle → connecting (hello sent) → ready (welcome received) → on any failure
 * backoff → connecting … ; stopped is final. In `ready`, up to `maxInFlight` batches are
 * outstanding; an ack removes a batch from the queue, a broken stream requeues every
 * in-flight batch so it is sent again on the next stream (the server dedups by series+timestamp).
 */
export class StreamClient {
  private state: State = "idle";
  private readonly client: IngestClient;
  private call: ClientDuplexStream<StreamRequest, StreamResponse> | undefined;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private throttledUntil = 0;
  private reconnects = 0;
  private readonly log: Logger;

  constructor(
    private readonly queue: BatchQueue,
    private readonly opts: StreamClientOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.client = createIngestClient(opts.address, credentials.createInsecure(), CHANNEL_OPTIONS);
    this.backoff = new Backoff(opts.backoffInitialMs, opts.backoffMaxMs);
    this.log = opts.logger.child({ component: "stream", server: opts.address });
  }

  start(): void {
    if (this.state === "idle") this.connect();
  }

  /** True when connected and every queued sample has been acked. */
  get drained(): boolean {
    return this.queue.isEmpty;
  }

  get reconnectCount(): number {
    return this.reconnects;
  }

  /** Sends what the window allows. Call after new batches are sealed. */
  pump(): void {
    if (this.state !== "ready" || !this.call) return;
    const wait = this.throttledUntil - this.now();
    if (wait > 0) {
      this.schedule(wait, () => this.pump());
      return;
    }
    const room = this.opts.maxInFlight - this.queue.inFlightCount;
    if (room <= 0) return;
    for (const batch of this.queue.takeUnsent(room)) {
      this.queue.markSent(batch);
      const frame = create(StreamRequestSchema, {
        frame: { case: "batch", value: encodeBatch(batch.seq, batch.series) },
      });
      this.call.write(frame);
    }
  }

  /** Closes the stream and the channel. */
  stop(): void {
    this.state = "stopped";
    if (this.timer) clearTimeout(this.timer);
    this.call?.cancel();
    this.call = undefined;
    this.client.close();
  }

  private connect(): void {
    this.state = "connecting";
    const metadata = new Metadata();
    metadata.set(AUTHORIZATION_METADATA_KEY, `Bearer ${this.opts.apiKey}`);
    const call = this.client.stream(metadata);
    this.call = call;
    let failed = false;
    const fail = (reason: string, code?: number) => {
      if (failed || this.state === "stopped") return;
      failed = true;
      call.removeAllListeners("data");
      call.cancel();
      this.call = undefined;
      this.queue.requeueInFlight();
      this.reconnects++;
      const delay = this.backoff.next();
      const level = code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED ? "error" : "warn";
      this.log[level]({ reason, retryInMs: delay }, "stream to server lost; reconnecting");
      this.state = "backoff";
      this.schedule(delay, () => this.connect());
    };
    const welcomeTimer = setTimeout(
      () => fail(`no welcome within ${WELCOME_TIMEOUT_MS} ms`),
      WELCOME_TIMEOUT_MS,
    );
    call.on("data", (response: StreamResponse) => this.onResponse(response, welcomeTimer));
    call.on("error", (err: Error & { code?: number; details?: string }) => {
      clearTimeout(welcomeTimer);
      fail(err.details || err.message, err.code);
    });
    call.on("end", () => {
      clearTimeout(welcomeTimer);
      fail("server closed the stream");
    });
    call.write(
      create(StreamRequestSchema, {
        frame: {
          case: "hello",
          value: {
            agentId: this.opts.agentId,
            hostname: this.opts.hostname,
            version: this.opts.version,
            labels: { ...this.opts.labels },
          },
        },
      }),
    );
  }

  private onResponse(response: StreamResponse, welcomeTimer: NodeJS.Timeout): void {
    const frame = response.frame;
    switch (frame.case) {
      case "welcome":
        clearTimeout(welcomeTimer);
        this.state = "ready";
        this.backoff.reset();
        this.log.info({ serverVersion: frame.value.serverVersion }, "connected to server");
        this.pump();
        return;
      case "ack":
        this.queue.ack(frame.value.seq);
        this.pump();
        return;
      case "throttle":
        this.throttledUntil = this.now() + frame.value.delayMs;
        this.log.warn(
          { delayMs: frame.value.delayMs, reason: frame.value.reason },
          "server asked to slow down",
        );
        return;
      case "error": {
        const { seq, code, message } = frame.value;
        if (code === ErrorCode.INVALID_BATCH && seq > 0) {
          const samples = this.queue.reject(seq);
          this.log.error({ seq, samples, reason: message }, "server rejected a batch as invalid; dropped it");
        } else if (code === ErrorCode.INTERNAL && seq > 0) {
          this.queue.retryLater(seq);
          this.log.warn({ seq, reason: message }, "server could not store a batch; will resend");
          this.schedule(this.backoff.next(), () => this.pump());
        } else {
          this.log.error({ seq, code: ErrorCode[code], reason: message }, "server reported a protocol error");
        }
        return;
      }
      default:
        return;
    }
  }

  private schedule(delayMs: number, fn: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state !== "stopped") fn();
    }, delayMs);
  }
}
