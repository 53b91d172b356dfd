import { create } from "@bufbuild/protobuf";
import { type ClientDuplexStream, Metadata, status } from "@grpc/grpc-js";
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
import { channelSecurity } from "./channel-security.js";
import { DEFAULT_KEEPALIVE_TIME_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS } from "./config.js";
import type { AgentTls } from "./tls-config.js";

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
  /** TLS settings; undefined = plaintext. */
  readonly tls?: AgentTls | undefined;
  /** A ping after this long without one answered (default 30 s; the server permits 10 s and up). */
  readonly keepaliveTimeMs?: number;
  /** A ping unanswered this long means the connection is dead (a blackholed peer): reopen. */
  readonly keepaliveTimeoutMs?: number;
}

/** The server must answer a hello within this long, or the stream is dropped and reopened. */
const WELCOME_TIMEOUT_MS = 10_000;

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
  private client: IngestClient;
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
    this.client = this.openChannel();
    this.backoff = new Backoff(opts.backoffInitialMs, opts.backoffMaxMs);
    this.log = opts.logger.child({ component: "stream", server: opts.address });
  }

  private openChannel(): IngestClient {
    const security = channelSecurity(this.opts.tls);
    return createIngestClient(this.opts.address, security.credentials, {
      ...security.options,
      // Keepalive finds a dead connection (a peer that stopped answering without closing it)
      // within keepalive time + timeout; the stream then fails and is reopened.
      "grpc.keepalive_time_ms": this.opts.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": this.opts.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
      "grpc.keepalive_permit_without_calls": 1,
      // grpc-js backs off reconnecting on its own (1 s growing to 120 s), and while it waits every
      // call fails at once; after a long outage that held the stream down for up to two minutes past
      // the server's return. Its backoff now follows ours (stream.reconnect_backoff_*).
      "grpc.initial_reconnect_backoff_ms": this.opts.backoffInitialMs,
      "grpc.max_reconnect_backoff_ms": this.opts.backoffMaxMs,
    });
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
      // A connection refused before the welcome is often TLS set up differently on the two sides.
      const hint = this.state === "connecting" ? connectHint(reason, this.opts.tls !== undefined) : undefined;
      this.log[level]({ reason, retryInMs: delay, hint }, "stream to server lost; reconnecting");
      this.state = "backoff";
      this.schedule(delay, () => this.connect());
    };
    const welcomeTimer = setTimeout(() => {
      fail(`no welcome within ${WELCOME_TIMEOUT_MS} ms`);
      // The connection under the stream may be dead without anyone knowing yet (a blackholed
      // peer): a new channel makes the next attempt open a new connection instead of reusing it.
      this.client.close();
      this.client = this.openChannel();
    }, WELCOME_TIMEOUT_MS);
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

/** Network errors that say nothing about TLS (nobody listening, no route): no hint for those. */
const PLAIN_NETWORK_ERRORS = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN/;

/** What to check when a stream fails before the server's welcome, or undefined when nothing useful. */
export function connectHint(reason: string, tls: boolean): string | undefined {
  if (PLAIN_NETWORK_ERRORS.test(reason)) return undefined;
  if (tls)
    return (
      "TLS: check tls.ca (the CA that signed the server's certificate), tls.server_name (a name in that " +
      "certificate), and for mutual TLS tls.cert/tls.key (signed by the server's tls.client_ca); the " +
      "server's log says why it refused"
    );
  if (/Failed to connect|Connection dropped|socket hang up|ECONNRESET|Protocol error/i.test(reason))
    return "plaintext connection refused: if the server has [tls] configured, set [tls] ca in this config";
  return undefined;
}
