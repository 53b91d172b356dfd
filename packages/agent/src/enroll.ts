import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { createIngestClient, RegisterRequestSchema } from "@vigil/protocol";
import { channelSecurity } from "./channel-security.js";
import type { AgentTls } from "./tls-config.js";

const REGISTER_DEADLINE_MS = 15_000;

/**
 * Exchanges a one-time enrolment token for an API key by calling IngestService.Register, over TLS
 * when `tls` is given (the same settings as the stream).
 */
export function register(
  address: string,
  token: string,
  agentId: string,
  hostname: string,
  tls?: AgentTls,
): Promise<string> {
  const security = channelSecurity(tls);
  const client = createIngestClient(address, security.credentials, security.options);
  return new Promise<string>((resolve, reject) => {
    client.register(
      create(RegisterRequestSchema, { token, agentId, hostname }),
      new Metadata(),
      { deadline: Date.now() + REGISTER_DEADLINE_MS },
      (err, response) => {
        client.close();
        if (err) reject(new Error(`enrolment with ${address} failed: ${err.details || err.message}`));
        else if (!response?.apiKey)
          reject(new Error(`enrolment with ${address} failed: the server returned no key`));
        else resolve(response.apiKey);
      },
    );
  });
}

/** Writes the key with mode 0600 (directory 0700 if created), atomically: a reader never sees half a key. */
export function writeKeyFile(path: string, key: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${key}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
