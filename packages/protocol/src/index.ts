export { BatchError, batchSampleCount, decodeBatch, encodeBatch, isBatchError } from "./batch-codec.js";
export * from "./gen/vigil/v1/ingest_pb.js";
export { type Decoded, grpcServiceDefinition } from "./grpc-definition.js";
export {
  createIngestClient,
  type IngestClient,
  type IngestServiceHandlers,
  ingestServerDefinition,
  type ServiceError,
} from "./ingest-service.js";

/** Agents split batches below this; the server refuses larger messages. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The metadata key carrying `Bearer <api key>`. */
export const AUTHORIZATION_METADATA_KEY = "authorization";
