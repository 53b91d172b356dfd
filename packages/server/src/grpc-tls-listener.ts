import type { AddressInfo, Socket } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import { type Server, ServerCredentials } from "@grpc/grpc-js";
import type { HostPort, Logger } from "@vigil/common";
import type { ServerTls } from "./tls-config.js";

/** A TLS listener feeding the gRPC server. */
export interface GrpcTlsListener {
  readonly port: number;
  /** Stops accepting connections (open ones are ended by the gRPC server's shutdown). */
  close(): void;
}

/**
 * Serves `grpc` over TLS (mutual TLS when `tls.clientCa` is set) on `address`. The handshake is
 * done here rather than inside grpc-js so that a refused client is logged with the reason
 * (no certificate, a certificate from another CA, plaintext on a TLS port): grpc-js only traces
 * handshake failures, and Node drops an unauthorised client certificate without any event.
 * Authenticated connections are handed to grpc-js as plain HTTP/2 (`createConnectionInjector`).
 */
export function listenGrpcTls(
  grpc: Server,
  address: HostPort,
  tls: ServerTls,
  logger: Logger,
): Promise<GrpcTlsListener> {
  const log = logger.child({ component: "tls" });
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  const mutual = tls.clientCa !== undefined;
  const server = createServer({
    cert: tls.cert,
    key: tls.key,
    ALPNProtocols: ["h2"],
    ...(mutual ? { ca: tls.clientCa, requestCert: true } : {}),
    // Verified below, so the refusal can be logged with its reason.
    rejectUnauthorized: false,
  });
  const peers = new WeakMap<Socket, string>();
  server.on("connection", (socket: Socket) => {
    peers.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    if (mutual && !socket.authorized) {
      const peer = peers.get(socket);
      const subject = socket.getPeerCertificate()?.subject?.CN;
      if (subject === undefined) log.warn({ peer, clientCa: tls.clientCaFile }, NO_CLIENT_CERTIFICATE);
      else
        log.warn(
          { peer, subject, reason: String(socket.authorizationError), clientCa: tls.clientCaFile },
          "refused a client whose certificate tls.client_ca did not sign",
        );
      socket.destroy();
      return;
    }
    injector.injectConnection(socket);
  });
  server.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
    log.warn({ peer: peers.get(socket), reason: err.message.trim(), code: err.code }, handshakeProblem(err));
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) =>
      reject(new Error(`cannot listen for gRPC (TLS) on ${address.host}:${address.port}: ${err.message}`)),
    );
    server.listen(address.port, address.host, () => {
      server.on("error", (err) => log.error({ err }, "gRPC TLS listener failed"));
      resolve({
        port: (server.address() as AddressInfo).port,
        // Open sessions belong to the gRPC server, whose tryShutdown/forceShutdown ends them.
        close: () => server.close(),
      });
    });
  });
}

const NO_CLIENT_CERTIFICATE =
  "refused a client without a certificate: mutual TLS is on (tls.client_ca); set tls.cert and tls.key in its agent.toml";

/** The log message for a failed handshake, saying what usually causes it. */
function handshakeProblem(err: Error & { code?: string }): string {
  if (err.code === "ERR_SSL_WRONG_VERSION_NUMBER" || err.code === "ERR_SSL_HTTP_REQUEST")
    return "refused a client speaking plaintext to the TLS port: set [tls] ca in its agent.toml";
  if (err.code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") return NO_CLIENT_CERTIFICATE;
  if (err.code === "ECONNRESET")
    return "a client closed the connection during the TLS handshake (does it trust this server's certificate and name? see its log)";
  return "TLS handshake with a client failed";
}
