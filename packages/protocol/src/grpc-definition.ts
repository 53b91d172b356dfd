import {
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/**
 * A request as the server sees it: decoded, or the reason it could not be. The server answers an
 * undecodable stream frame with an error frame and keeps the stream open, so decoding must not throw.
 */
export type Decoded<T> =
  | { readonly ok: true; readonly message: T }
  | { readonly ok: false; readonly error: string };

/**
 * Builds the @grpc/grpc-js service definition straight from protobuf-es descriptors: paths,
 * streaming kinds and (de)serializers all come from the generated `GenService`, so there is one
 * code generator and no hand-copied message types. Method keys are the descriptors' `localName`
 * (`stream`, `register`).
 *
 * `requests: "lenient"` (server side) wraps each decoded request in `Decoded<T>`;
 * `"strict"` (client side) lets a decode error fail the call as grpc-js normally does.
 */
export function grpcServiceDefinition(
  service: DescService,
  requests: "strict" | "lenient",
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const input = method.input;
    const output = method.output;
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: (message: unknown) => serialize(input, message),
      requestDeserialize:
        requests === "lenient"
          ? (bytes: Buffer) => decodeLeniently(input, bytes)
          : (bytes: Buffer) => fromBinary(input, bytes),
      responseSerialize: (message: unknown) => serialize(output, message),
      responseDeserialize: (bytes: Buffer) => fromBinary(output, bytes),
    };
  }
  return definition;
}

function serialize(schema: DescMessage, message: unknown): Buffer {
  const bytes = toBinary(schema, message as MessageShape<DescMessage>);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeLeniently(schema: DescMessage, bytes: Buffer): Decoded<unknown> {
  try {
    return { ok: true, message: fromBinary(schema, bytes) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, error: `not a valid ${schema.typeName} message (${reason})` };
  }
}
