import { resolve } from "node:path";
import {
  ConfigError,
  checkPemKeyPair,
  findTomlKeyLine,
  type HostPort,
  isLoopbackHost,
  type PemKind,
  readPemFile,
} from "@vigil/common";
import { z } from "zod";

/** `[tls]` of the server config: the gRPC port's certificate, and the CA for client certificates (mTLS). */
export const tlsSection = z.strictObject({
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  client_ca: z.string().min(1).optional(),
  insecure: z.boolean().default(false),
});

/** The gRPC port's TLS settings with the PEM files read and checked. */
export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** When set, every client must present a certificate this CA signed (mutual TLS). */
  readonly clientCaFile: string | undefined;
  readonly clientCa: Buffer | undefined;
}

/** Environment variable that sets `tls.insecure` (the container image listens on 0.0.0.0). */
export const TLS_INSECURE_ENV = "VIGIL_TLS_INSECURE";

export interface LoadServerTlsInput {
  readonly section: z.output<typeof tlsSection>;
  /** The config file (or "(defaults)") and its text, to name the line at fault. */
  readonly file: string;
  readonly source: string;
  /** Relative paths are relative to this directory (the working directory, as for `data_dir`). */
  readonly cwd: string;
  readonly grpcListen: HostPort;
  /** Where grpc_listen came from, for the error: the file's key or the variable. */
  readonly grpcListenFromEnv: string | undefined;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Reads the `[tls]` files (cert and key both, or neither) and refuses plaintext on a gRPC address
 * other machines can reach unless `tls.insecure = true` (or VIGIL_TLS_INSECURE=true). Throws
 * ConfigError naming file, line and key. Returns undefined for plaintext.
 */
export function loadServerTls(input: LoadServerTlsInput): ServerTls | undefined {
  const { section, file, source, cwd, env } = input;
  const at = (dotted: string) => ({ file, line: findTomlKeyLine(source, dotted.split(".")), key: dotted });
  const envInsecure = env[TLS_INSECURE_ENV];
  if (envInsecure !== undefined && envInsecure !== "" && envInsecure !== "true" && envInsecure !== "false")
    throw new ConfigError({
      file: "environment",
      key: TLS_INSECURE_ENV,
      problem: 'must be "true" or "false"',
    });
  const insecure = envInsecure === "true" || (envInsecure !== "false" && section.insecure);
  if (section.client_ca !== undefined && section.cert === undefined)
    throw new ConfigError({ ...at("tls.client_ca"), problem: "mutual TLS needs tls.cert and tls.key too" });
  if ((section.cert === undefined) !== (section.key === undefined))
    throw new ConfigError({
      ...at(section.cert === undefined ? "tls.key" : "tls.cert"),
      problem: "TLS needs both tls.cert and tls.key",
    });
  if (section.cert === undefined || section.key === undefined) {
    if (!insecure && !isLoopbackHost(input.grpcListen.host)) {
      const where = input.grpcListenFromEnv
        ? { file: "environment", key: input.grpcListenFromEnv }
        : at("server.grpc_listen");
      throw new ConfigError({
        ...where,
        problem:
          `${input.grpcListen.host} is not a loopback address, and without TLS agents' API keys and samples ` +
          'would cross the network in clear text; set [tls] cert and key (docs/deployment.md, "TLS"), ' +
          `or tls.insecure = true (${TLS_INSECURE_ENV}=true) to allow plaintext deliberately`,
      });
    }
    return undefined;
  }
  const read = (dotted: string, path: string, kind: PemKind): Buffer => {
    try {
      return readPemFile(path, kind);
    } catch (err) {
      throw new ConfigError({ ...at(dotted), problem: (err as Error).message });
    }
  };
  const certFile = resolve(cwd, section.cert);
  const keyFile = resolve(cwd, section.key);
  const clientCaFile = section.client_ca === undefined ? undefined : resolve(cwd, section.client_ca);
  const cert = read("tls.cert", certFile, "certificate");
  const key = read("tls.key", keyFile, "private key");
  try {
    checkPemKeyPair(certFile, cert, keyFile, key);
  } catch (err) {
    throw new ConfigError({ ...at("tls.key"), problem: (err as Error).message });
  }
  const clientCa =
    clientCaFile === undefined ? undefined : read("tls.client_ca", clientCaFile, "certificate");
  return { certFile, keyFile, cert, key, clientCaFile, clientCa };
}
