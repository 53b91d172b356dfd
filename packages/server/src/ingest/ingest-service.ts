import { create } from "@bufbuild/protobuf";
import {
  type Metadata,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { AGENT_ID_RE, AGENT_ID_RULE, type Logger } from "@vigil/common";
import {
  AUTHORIZATION_METADATA_KEY,
  type Batch,
  batchSampleCount,
  type Decoded,
  decodeBatch,
  ErrorCode,
  type Hello,
  type IngestServiceHandlers,
  isBatchError,
  type RegisterRequest,
  type RegisterResponse,
  RegisterResponseSchema,
  type StreamRequest,
  type StreamResponse,
  StreamResponseSchema,
} from "@vigil/protocol";
import { type Catalog, isRetryableStorageError, isStorageError, type StorageEngine } from "@vigil/storage";
import type { AlertIngestHook } from "../alerting.js";
import { generateSecret, hashSecret, parseBearer, SECRET_PREFIX } from "../auth/secrets.js";

export interface IngestDeps {
  readonly catalog: Catalog;
  readonly storage: StorageEngine;
  readonly logger: Logger;
  readonly serverVersion: string;
  readonly maxMessageBytes: number;
  readonly now: () => number;
  /** The alert engine: told of hellos and of every batch after it is stored. */
  readonly alerts?: AlertIngestHook;
}

/** A stream pauses reading while this many batches wait for storage, and resumes below half of it. */
const MAX_PENDING_BATCHES = 32;
/** How long an agent is asked to wait when the storage writer's queue is full (`busy`). */
export const BUSY_THROTTLE_MS = 250;
/** How long an agent is asked to wait after a failed write (disk full, read-only file). */
export const UNAVAILABLE_THROTTLE_MS = 2_000;
/** A stream must say hello within this long, or it is closed. */
const HELLO_TIMEOUT_MS = 10_000;
/** last_seen is written at most this often per agent (it is also implied by every ack). */
const TOUCH_INTERVAL_MS = 5_000;

type StreamCall = ServerDuplexStream<Decoded<StreamRequest>, StreamResponse>;

/** vigil.v1.IngestService: authenticates agents, stores their batches, acks after commit. */
export function createIngestHandlers(deps: IngestDeps): IngestServiceHandlers {
  return {
    stream: (call: StreamCall) => handleStream(deps, call),
    register: (
      call: ServerUnaryCall<Decoded<RegisterRequest>, RegisterResponse>,
      callback: sendUnaryData<RegisterResponse>,
    ) => handleRegister(deps, call, callback),
  };
}

/** Resolves the agent an API key belongs to; undefined for a missing, unknown or revoked key. */
function authenticate(catalog: Catalog, metadata: Metadata): string | undefined {
  const key = parseBearer(metadata.get(AUTHORIZATION_METADATA_KEY)[0]);
  return key === undefined ? undefined : catalog.agentForKeyHash(hashSecret(key));
}

function handleStream(deps: IngestDeps, call: StreamCall): void {
  const peer = call.getPeer();
  const agentId = authenticate(deps.catalog, call.metadata);
  if (agentId === undefined) {
    // Never log the key itself, only that one was refused and from where.
    deps.logger.warn({ peer }, "ingest stream refused: missing, unknown or revoked API key");
    call.emit("error", { code: status.UNAUTHENTICATED, details: "missing, unknown or revoked API key" });
    return;
  }
  const log = deps.logger.child({ agent: agentId, peer });
  let hello: Hello | undefined;
  let pending = 0;
  let paused = false;
  let chain: Promise<void> = Promise.resolve();
  let lastTouch = 0;
  let closed = false;

  const send = (frame: StreamResponse["frame"]) => {
    if (!closed) call.write(create(StreamResponseSchema, { frame }));
  };
  const sendError = (seq: number, code: ErrorCode, message: string) =>
    send({ case: "error", value: { $typeName: "vigil.v1.Error", seq, code, message } });

  const helloTimer = setTimeout(() => {
    if (!hello) {
      log.warn("ingest stream closed: no hello within %d ms", HELLO_TIMEOUT_MS);
      call.emit("error", {
        code: status.DEADLINE_EXCEEDED,
        details: `no hello within ${HELLO_TIMEOUT_MS} ms`,
      });
    }
  }, HELLO_TIMEOUT_MS);
  helloTimer.unref();

  const storeBatch = async (batch: Batch) => {
    let series: ReturnType<typeof decodeBatch>;
    try {
      series = decodeBatch(batch);
    } catch (err) {
      if (!isBatchError(err)) throw err;
      log.warn({ seq: batch.seq, err: err.message }, "rejected an invalid batch");
      sendError(batch.seq, ErrorCode.INVALID_BATCH, err.message);
      return;
    }
    try {
      const result = await deps.storage.appendBatch(agentId, series);
      send({
        case: "ack",
        value: {
          $typeName: "vigil.v1.Ack",
          seq: batch.seq,
          accepted: result.accepted,
          duplicates: result.duplicates,
        },
      });
      const now = deps.now();
      deps.alerts?.ingest(agentId, series, now);
      if (now - lastTouch >= TOUCH_INTERVAL_MS) {
        lastTouch = now;
        deps.catalog.touchAgent(agentId, now);
      }
      log.debug({ seq: batch.seq, samples: batchSampleCount(batch), ...result }, "batch stored");
    } catch (err) {
      if (isStorageError(err) && err.code === "invalid_batch") {
        // Storage refuses what the codec lets through (e.g. a timestamp past year 9999): resending cannot help.
        log.warn({ seq: batch.seq, err: err.message }, "rejected an invalid batch");
        sendError(batch.seq, ErrorCode.INVALID_BATCH, err.message);
        return;
      }
      if (isRetryableStorageError(err)) {
        // The writer's queue is full (busy) or a write failed (unavailable): ask the agent to pause,
        // then report the batch as not stored (INTERNAL: the agent keeps it and resends it after the
        // pause) instead of buffering it here without bound.
        const busy = err.code === "busy";
        if (busy) log.debug({ seq: batch.seq, err: err.message }, "storage busy; throttling the agent");
        else
          log.error(
            { seq: batch.seq, err: err.message },
            "failed to store a batch; the agent will resend it",
          );
        send({
          case: "throttle",
          value: {
            $typeName: "vigil.v1.Throttle",
            delayMs: busy ? BUSY_THROTTLE_MS : UNAVAILABLE_THROTTLE_MS,
            reason: busy ? "storage writer queue full" : "storage write failed; retrying",
          },
        });
        sendError(batch.seq, ErrorCode.INTERNAL, `not stored (${err.code}): ${err.message}; resend later`);
        return;
      }
      // Not the agent's fault: it keeps the batch and resends it later.
      log.error({ seq: batch.seq, err }, "failed to store a batch");
      sendError(batch.seq, ErrorCode.INTERNAL, "the server could not store this batch; resend later");
    }
  };

  call.on("data", (decoded: Decoded<StreamRequest>) => {
    if (!decoded.ok) {
      log.warn({ err: decoded.error }, "rejected an undecodable frame");
      sendError(0, ErrorCode.INVALID_BATCH, decoded.error);
      return;
    }
    const frame = decoded.message.frame;
    if (frame.case === "hello") {
      if (hello) return sendError(0, ErrorCode.PROTOCOL, "hello sent twice on one stream");
      if (frame.value.agentId !== agentId) {
        log.warn(
          { claimed: frame.value.agentId },
          "ingest stream refused: hello names another agent than the key's",
        );
        call.emit("error", {
          code: status.PERMISSION_DENIED,
          details: `this API key belongs to agent "${agentId}", not "${frame.value.agentId}"`,
        });
        return;
      }
      hello = frame.value;
      clearTimeout(helloTimer);
      const now = deps.now();
      lastTouch = now;
      deps.catalog.upsertAgent({
        id: agentId,
        hostname: hello.hostname,
        version: hello.version,
        labels: hello.labels,
        seenAt: now,
      });
      deps.alerts?.agentSeen(agentId, now);
      log.info({ version: hello.version, hostname: hello.hostname }, "agent connected");
      send({
        case: "welcome",
        value: {
          $typeName: "vigil.v1.Welcome",
          serverVersion: deps.serverVersion,
          maxMessageBytes: deps.maxMessageBytes,
        },
      });
      return;
    }
    if (frame.case === "batch") {
      if (!hello) return sendError(frame.value.seq, ErrorCode.PROTOCOL, "batch sent before hello");
      const batch = frame.value;
      pending++;
      if (pending >= MAX_PENDING_BATCHES && !paused) {
        paused = true;
        call.pause();
      }
      // Started at once, so a stream's batches share the writer's group commits; the writer commits
      // them in arrival order. `chain` only lets the end of the stream wait for all of them.
      const stored = storeBatch(batch)
        .catch((err: unknown) => log.error({ err }, "unexpected error while storing a batch"))
        .finally(() => {
          pending--;
          if (paused && pending <= MAX_PENDING_BATCHES / 2) {
            paused = false;
            call.resume();
          }
        });
      chain = chain.then(() => stored);
      return;
    }
    sendError(0, ErrorCode.PROTOCOL, "empty frame: expected hello or batch");
  });
  call.on("end", () => {
    void chain.then(() => {
      closed = true;
      call.end();
    });
  });
  call.on("cancelled", () => {
    closed = true;
    clearTimeout(helloTimer);
    log.info("agent disconnected");
  });
  call.on("error", (err: unknown) => {
    closed = true;
    clearTimeout(helloTimer);
    log.debug({ err }, "ingest stream error");
  });
}

function handleRegister(
  deps: IngestDeps,
  call: ServerUnaryCall<Decoded<RegisterRequest>, RegisterResponse>,
  callback: sendUnaryData<RegisterResponse>,
): void {
  const peer = call.getPeer();
  if (!call.request.ok) {
    callback({ code: status.INVALID_ARGUMENT, details: call.request.error });
    return;
  }
  const req = call.request.message;
  if (!AGENT_ID_RE.test(req.agentId)) {
    callback({
      code: status.INVALID_ARGUMENT,
      details: `agent_id ${JSON.stringify(req.agentId)} is invalid: ${AGENT_ID_RULE}`,
    });
    return;
  }
  const now = deps.now();
  const outcome = deps.catalog.consumeEnrollToken(hashSecret(req.token), req.agentId, now);
  if (!outcome.ok) {
    const why = {
      unknown: "the enrolment token is not known",
      expired: "the enrolment token has expired; create a new one with `vigil-server enroll-token create`",
      used: "the enrolment token has already been used; create a new one with `vigil-server enroll-token create`",
    }[outcome.reason];
    deps.logger.warn({ peer, agentId: req.agentId, reason: outcome.reason }, "enrolment refused");
    callback({ code: status.UNAUTHENTICATED, details: why });
    return;
  }
  const apiKey = generateSecret(SECRET_PREFIX.agentKey);
  deps.catalog.addAgentKey(req.agentId, hashSecret(apiKey), now);
  deps.catalog.upsertAgent({ id: req.agentId, hostname: req.hostname, version: "", labels: {}, seenAt: now });
  deps.logger.info({ peer, agentId: req.agentId }, "agent enrolled");
  callback(null, create(RegisterResponseSchema, { apiKey, agentId: req.agentId }));
}
