import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type ClientDuplexStream, credentials, Metadata, makeGenericClientConstructor } from "@grpc/grpc-js";
import {
  type StreamRequest,
  StreamRequestSchema,
  type StreamResponse,
  StreamResponseSchema,
} from "@vigil/protocol";

/**
 * An IngestService client that sends raw bytes, so tests can put frames on the wire that no
 * well-behaved agent would: garbage, truncated protobuf, out-of-order frames.
 */
export function openRawStream(
  address: string,
  apiKey: string,
): ClientDuplexStream<Buffer, StreamResponse> & { close(): void } {
  const Ctor = makeGenericClientConstructor(
    {
      stream: {
        path: "/vigil.v1.IngestService/Stream",
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (m: StreamResponse) => Buffer.from(toBinary(StreamResponseSchema, m)),
        responseDeserialize: (b: Buffer) => fromBinary(StreamResponseSchema, b),
      },
    },
    "vigil.v1.IngestService",
  );
  const client = new Ctor(address, credentials.createInsecure()) as unknown as {
    stream(md: Metadata): ClientDuplexStream<Buffer, StreamResponse>;
    close(): void;
  };
  const md = new Metadata();
  md.set("authorization", `Bearer ${apiKey}`);
  const call = client.stream(md);
  return Object.assign(call, { close: () => client.close() });
}

export function frameBytes(frame: StreamRequest["frame"]): Buffer {
  return Buffer.from(toBinary(StreamRequestSchema, create(StreamRequestSchema, { frame })));
}

/** Collects responses and lets a test wait for the next one matching a predicate. */
export function responses(call: ClientDuplexStream<Buffer, StreamResponse>) {
  const seen: StreamResponse[] = [];
  const waiters: { pred: (r: StreamResponse) => boolean; resolve: (r: StreamResponse) => void }[] = [];
  call.on("data", (r: StreamResponse) => {
    seen.push(r);
    const i = waiters.findIndex((w) => w.pred(r));
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(r);
  });
  return {
    seen,
    next(pred: (r: StreamResponse) => boolean, timeoutMs = 10_000): Promise<StreamResponse> {
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(new Error(`no matching response; saw ${JSON.stringify(seen.map((r) => r.frame.case))}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (r) => {
            clearTimeout(t);
            resolve(r);
          },
        });
      });
    },
  };
}
