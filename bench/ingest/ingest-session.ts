import { create } from "@bufbuild/protobuf";
import { type ClientDuplexStream, credentials, Metadata } from "@grpc/grpc-js";
import {
  AUTHORIZATION_METADATA_KEY,
  createIngestClient,
  encodeBatch,
  type IngestClient,
  RegisterRequestSchema,
  type StreamRequest,
  StreamRequestSchema,
  type StreamResponse,
} from "@vigil/protocol";
import type { BatchSeries } from "./workload.js";

/** A batch ready to write: the frame is built before the clock starts. */
export interface Frame {
  readonly seq: number;
  readonly samples: number;
  readonly request: StreamRequest;
}

/** Encodes batches into stream frames, numbering them from `firstSeq`. */
export function toFrames(batches: readonly BatchSeries[], firstSeq: number): Frame[] {
  return batches.map((batch, i) => {
    const seq = firstSeq + i;
    let samples = 0;
    for (const s of batch) samples += s.values.length;
    const request = create(StreamRequestSchema, { frame: { case: "batch", value: encodeBatch(seq, batch) } });
    return { seq, samples, request };
  });
}

export interface SendResult {
  readonly batches: number;
  readonly samples: number;
  /** From the first write to the last ack. */
  readonly seconds: number;
  /** Summed over the acks. */
  readonly accepted: number;
  readonly duplicates: number;
  /** Throttle frames seen (the server asked us to slow down; we note it, we do not wait). */
  readonly throttles: number;
}

/** Exchanges a one-time enrolment token for an API key (IngestService.Register). */
export function register(address: string, token: string, agentId: string): Promise<string> {
  const client = createIngestClient(address, credentials.createInsecure());
  const request = create(RegisterRequestSchema, { token, agentId, hostname: "bench" });
  return new Promise<string>((resolve, reject) => {
    client.register(request, new Metadata(), { deadline: Date.now() + 10_000 }, (err, response) => {
      if (err) reject(new Error(`Register failed: ${err.message}`));
      else if (!response?.apiKey) reject(new Error("Register answered without an API key"));
      else resolve(response.apiKey);
    });
  }).finally(() => client.close());
}

type ResponseHandler = (response: StreamResponse) => void;

/**
 * One agent's ingest stream, as an agent drives it: hello, welcome, then batches with a window of
 * unacked ones in flight. A class because it has a lifecycle (open, send, close).
 */
export class IngestSession {
  readonly #client: IngestClient;
  readonly #call: ClientDuplexStream<StreamRequest, StreamResponse>;
  readonly #ended: Promise<void>;
  #onResponse: ResponseHandler | undefined;
  #onFailure: ((err: Error) => void) | undefined;

  private constructor(client: IngestClient, call: ClientDuplexStream<StreamRequest, StreamResponse>) {
    this.#client = client;
    this.#call = call;
    call.on("data", (response: StreamResponse) => {
      if (this.#onResponse) this.#onResponse(response);
      else this.#fail(new Error(`unexpected ${response.frame.case ?? "empty"} frame with nothing in flight`));
    });
    this.#ended = new Promise((resolve, reject) => {
      call.on("status", (status) => {
        if (status.code === 0) resolve();
        else reject(new Error(`stream closed with status ${status.code}: ${status.details}`));
      });
    });
    // A failure while a send is in flight fails that send; `close` reports one that came at another time.
    this.#ended.catch((err: unknown) => this.#fail(err instanceof Error ? err : new Error(String(err))));
    call.on("error", () => {
      // grpc-js emits the failure as "error" and then as "status"; the status handler reports it.
    });
  }

  /** Opens the stream with the agent's key and waits for the server's welcome. */
  static async open(address: string, apiKey: string, agentId: string): Promise<IngestSession> {
    const client = createIngestClient(address, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set(AUTHORIZATION_METADATA_KEY, `Bearer ${apiKey}`);
    const session = new IngestSession(client, client.stream(metadata));
    const welcomed = new Promise<void>((resolve, reject) => {
      session.#await((response) => {
        if (response.frame.case === "welcome") resolve();
        else reject(new Error(`expected welcome, got ${describe(response)}`));
      }, reject);
      session.#call.write(
        create(StreamRequestSchema, {
          frame: { case: "hello", value: { agentId, hostname: "bench", version: "bench", labels: {} } },
        }),
      );
    }).finally(() => session.#await(undefined, undefined));
    try {
      await welcomed;
    } catch (err) {
      session.abort();
      throw err;
    }
    return session;
  }

  /**
   * Writes the frames keeping at most `window` unacked, and resolves when the last is acked. Acks must
   * come in order (the server stores one stream's batches in order); an error frame fails the send.
   */
  send(frames: readonly Frame[], window: number): Promise<SendResult> {
    if (frames.length === 0) throw new Error("nothing to send");
    return new Promise<SendResult>((resolve, reject) => {
      let next = 0;
      let acked = 0;
      let accepted = 0;
      let duplicates = 0;
      let throttles = 0;
      let samples = 0;
      const write = () => {
        const frame = frames[next++] as Frame;
        samples += frame.samples;
        this.#call.write(frame.request);
      };
      const start = performance.now();
      this.#await((response) => {
        const { frame } = response;
        if (frame.case === "throttle") {
          throttles++;
          return;
        }
        const expected = (frames[acked] as Frame).seq;
        if (frame.case !== "ack" || frame.value.seq !== expected) {
          reject(new Error(`expected the ack of batch ${expected}, got ${describe(response)}`));
          return;
        }
        acked++;
        accepted += frame.value.accepted;
        duplicates += frame.value.duplicates;
        if (next < frames.length) write();
        else if (acked === frames.length) {
          const seconds = (performance.now() - start) / 1000;
          resolve({ batches: acked, samples, seconds, accepted, duplicates, throttles });
        }
      }, reject);
      while (next < Math.min(window, frames.length)) write();
    }).finally(() => this.#await(undefined, undefined));
  }

  /** Half-closes the stream, waits for the server to finish it, and closes the channel. */
  async close(): Promise<void> {
    this.#call.end();
    try {
      await this.#ended;
    } finally {
      this.#client.close();
    }
  }

  /** Cancels the stream and closes the channel without waiting (used on failure paths). */
  abort(): void {
    this.#call.cancel();
    this.#client.close();
  }

  #await(onResponse: ResponseHandler | undefined, onFailure: ((err: Error) => void) | undefined): void {
    this.#onResponse = onResponse;
    this.#onFailure = onFailure;
  }

  #fail(err: Error): void {
    const onFailure = this.#onFailure;
    this.#await(undefined, undefined);
    if (onFailure) onFailure(err);
    else process.stderr.write(`bench ingest: stream: ${err.message}\n`);
  }
}

function describe(response: StreamResponse): string {
  const { frame } = response;
  switch (frame.case) {
    case "error":
      return `error frame (seq ${frame.value.seq}, code ${frame.value.code}): ${frame.value.message}`;
    case "ack":
      return `ack of batch ${frame.value.seq}`;
    case undefined:
      return "an empty frame";
    default:
      return `a ${frame.case} frame`;
  }
}
