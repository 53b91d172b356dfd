import { type ChannelCredentials, type ChannelOptions, credentials } from "@grpc/grpc-js";
import type { AgentTls } from "./tls-config.js";

/** What a gRPC client to the server needs for TLS: credentials, and the name override if any. */
export interface ChannelSecurity {
  readonly credentials: ChannelCredentials;
  readonly options: ChannelOptions;
}

/**
 * Credentials for the stream and `enroll`: TLS (with a client certificate for mTLS) when `[tls]`
 * is configured, else plaintext (allowed by the config loader only to loopback or with
 * `tls.insecure = true`).
 */
export function channelSecurity(tls: AgentTls | undefined): ChannelSecurity {
  if (!tls) return { credentials: credentials.createInsecure(), options: {} };
  return {
    credentials: credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null),
    // The server's certificate is checked against this name, and it is sent as SNI and :authority.
    options:
      tls.serverName === undefined
        ? {}
        : { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName },
  };
}
