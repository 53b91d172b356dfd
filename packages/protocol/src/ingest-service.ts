import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ClientDuplexStream,
  type ClientUnaryCall,
  type handleBidiStreamingCall,
  type handleUnaryCall,
  type Metadata,
  makeGenericClientConstructor,
  type requestCallback,
  type ServiceError,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import {
  IngestService,
  type RegisterRequest,
  type RegisterResponse,
  type StreamRequest,
  type StreamResponse,
} from "./gen/vigil/v1/ingest_pb.js";
import { type Decoded, grpcServiceDefinition } from "./grpc-definition.js";

/** Server-side definition of vigil.v1.IngestService; requests arrive as `Decoded<T>`. */
export const ingestServerDefinition = grpcServiceDefinition(IngestService, "lenient");

/** What the server implements for vigil.v1.IngestService. */
export interface IngestServiceHandlers extends UntypedServiceImplementation {
  stream: handleBidiStreamingCall<Decoded<StreamRequest>, StreamResponse>;
  register: handleUnaryCall<Decoded<RegisterRequest>, RegisterResponse>;
}

/** A typed client for vigil.v1.IngestService (grpc-js generic client underneath). */
export interface IngestClient extends Client {
  stream(metadata?: Metadata, options?: CallOptions): ClientDuplexStream<StreamRequest, StreamResponse>;
  register(
    request: RegisterRequest,
    metadata: Metadata,
    options: CallOptions,
    callback: requestCallback<RegisterResponse>,
  ): ClientUnaryCall;
}

const IngestClientConstructor = makeGenericClientConstructor(
  grpcServiceDefinition(IngestService, "strict"),
  IngestService.typeName,
);

export function createIngestClient(
  address: string,
  credentials: ChannelCredentials,
  options?: ChannelOptions,
): IngestClient {
  return new IngestClientConstructor(address, credentials, options) as unknown as IngestClient;
}

export type { ServiceError };
