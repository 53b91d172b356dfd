import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { ConfigError, checkPemKeyPair, type PemKind, readPemFile } from "@vigil/common";

/** The agent's TLS settings with the PEM files read and checked. */
export interface AgentTls {
  /** Absolute paths, as configured (relative ones are relative to the config file's directory). */
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** CA bundle to verify the server with; undefined = Node's built-in public roots. */
  readonly ca: Buffer | undefined;
  /** Client certificate and key for mutual TLS, both or neither. */
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  /** Name to verify the server's certificate against instead of the host in `server`. */
  readonly serverName: string | undefined;
  /** Changes when any setting or file content changes, so a SIGHUP reload knows to reconnect. */
  readonly fingerprint: string;
}

/** The `[tls]` section as the schema validates it. */
export interface TlsSection {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly server_name?: string | undefined;
  readonly insecure: boolean;
}

type Locate = (dotted: string) => { file: string; line?: number | undefined; key: string };

/**
 * Reads the `[tls]` files. TLS is on when any of `ca`, `cert`, `key`, `server_name` is set (then
 * `insecure` has no effect); returns undefined for plaintext. Throws ConfigError at the key whose file is missing or not valid PEM.
 */
export function loadAgentTls(section: TlsSection, base: string, locate: Locate): AgentTls | undefined {
  const { ca, cert, key, server_name: serverName } = section;
  if (ca === undefined && cert === undefined && key === undefined && serverName === undefined)
    return undefined;
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError({
      ...locate(cert === undefined ? "tls.key" : "tls.cert"),
      problem: "a client certificate needs both tls.cert and tls.key",
    });
  const caFile = ca === undefined ? undefined : resolve(base, ca);
  const certFile = cert === undefined ? undefined : resolve(base, cert);
  const keyFile = key === undefined ? undefined : resolve(base, key);
  const read = (dotted: string, path: string | undefined, kind: PemKind) =>
    path === undefined ? undefined : atKey(locate, dotted, () => readPemFile(path, kind));
  const caPem = read("tls.ca", caFile, "certificate");
  const certPem = read("tls.cert", certFile, "certificate");
  const keyPem = read("tls.key", keyFile, "private key");
  if (certFile && certPem && keyFile && keyPem)
    atKey(locate, "tls.key", () => checkPemKeyPair(certFile, certPem, keyFile, keyPem));
  const hash = createHash("sha256");
  for (const part of [caPem, certPem, keyPem, serverName]) hash.update(part ?? "-").update("\0");
  return {
    caFile,
    certFile,
    keyFile,
    ca: caPem,
    cert: certPem,
    key: keyPem,
    serverName,
    fingerprint: hash.digest("hex"),
  };
}

/** Why plaintext to `server` (not a loopback address) is refused, and how to fix it. */
export function plaintextProblem(server: string): string {
  return (
    `${server} is not a loopback address, and without TLS the API key and every sample would cross ` +
    'the network in clear text; set [tls] ca (docs/deployment.md, "TLS"), or tls.insecure = true ' +
    "to allow plaintext deliberately"
  );
}

function atKey<T>(locate: Locate, key: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new ConfigError({ ...locate(key), problem: (err as Error).message });
  }
}
