import { resolve } from "node:path";
import { type AgentSettings, parseRules, type Rule } from "@vigil/alerts";
import {
  ConfigError,
  type HostPort,
  type LogLevel,
  parseHostPort,
  readTomlFile,
  validateConfig,
  zHostPort,
  zLogLevel,
} from "@vigil/common";
import { z } from "zod";
import { agentSettingsFrom, agentsSection } from "./agent-settings-config.js";
import { type StorageSettings, storageSection, storageSettingsFrom } from "./storage-config.js";
import { loadServerTls, type ServerTls, tlsSection } from "./tls-config.js";

export const DEFAULT_HTTP_LISTEN = "127.0.0.1:9800";
export const DEFAULT_GRPC_LISTEN = "127.0.0.1:9801";
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const serverSection = z.strictObject({
  data_dir: z.string().min(1, "must not be empty").default("./data"),
  http_listen: zHostPort.default(DEFAULT_HTTP_LISTEN),
  grpc_listen: zHostPort.default(DEFAULT_GRPC_LISTEN),
  log_level: zLogLevel.default("info"),
  /** The agent bundle offered to self-updating agents; default: this checkout's packages/agent/dist. */
  agent_bundle: z.string().min(1, "must not be empty").optional(),
});

const ingestSection = z.strictObject({
  max_message_bytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(64 * 1024 * 1024)
    .default(DEFAULT_MAX_MESSAGE_BYTES),
});

/** `[[alert.rules]]`: each rule's fields are validated by `@vigil/alerts`' `parseRules` (docs/alerting.md). */
const alertSection = z.strictObject({
  rules: z.array(z.unknown()).default([]),
});

/** The server TOML schema; `config/server.example.toml` documents every key. */
export const serverConfigSchema = z.strictObject({
  server: serverSection.prefault({}),
  ingest: ingestSection.prefault({}),
  alert: alertSection.prefault({}),
  agents: agentsSection.prefault({}),
  tls: tlsSection.prefault({}),
  storage: storageSection.prefault({}),
});

export interface ServerConfig {
  /** Absolute. */
  readonly dataDir: string;
  readonly httpListen: HostPort;
  readonly grpcListen: HostPort;
  readonly logLevel: LogLevel;
  readonly maxMessageBytes: number;
  /** `[tls]` for the gRPC port, files read and checked; undefined = plaintext (loopback or tls.insecure). */
  readonly tls: ServerTls | undefined;
  /** `[[alert.rules]]`, validated and compiled. */
  readonly alertRules: readonly Rule[];
  /** `[agents."ID"]`: maintenance windows and expected_offline, by agent id. */
  readonly agentSettings?: ReadonlyMap<string, AgentSettings> | undefined;
  /** `[storage]`: retention of day files and rollups; undefined = the defaults (storage-config.ts). */
  readonly storage?: StorageSettings | undefined;
  /** `server.agent_bundle`, absolute; undefined = the default (agent-update-route.ts). */
  readonly agentBundlePath?: string | undefined;
  /** The file it came from, or undefined for built-in defaults. */
  readonly file: string | undefined;
}

/** Environment variables that override the config file (Contract). */
export const SERVER_ENV_OVERRIDES = {
  VIGIL_DATA_DIR: "data_dir",
  VIGIL_HTTP_LISTEN: "http_listen",
  VIGIL_GRPC_LISTEN: "grpc_listen",
  VIGIL_LOG_LEVEL: "log_level",
} as const;

/**
 * Loads the server config: the TOML file if given (else built-in defaults), then the
 * `VIGIL_*` environment overrides. Throws ConfigError naming file, line and key.
 */
export function loadServerConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): ServerConfig {
  const { source, data } = file ? readTomlFile(file) : { source: "", data: {} };
  const parsed = validateConfig(file ?? "(defaults)", source, data, serverConfigSchema);
  const alertRules = parseRules(data, file ?? "(defaults)", source);
  const server: Record<string, string> = { ...parsed.server };
  for (const [variable, key] of Object.entries(SERVER_ENV_OVERRIDES)) {
    const value = env[variable];
    if (value !== undefined && value !== "") server[key] = value;
  }
  // Re-validate the [server] section with the overrides applied, naming the variable on error.
  const result = serverSection.safeParse(server);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? "");
    const variable = Object.entries(SERVER_ENV_OVERRIDES).find(([, k]) => k === key)?.[0];
    throw new ConfigError({
      file: "environment",
      key: variable ?? key,
      problem: issue?.message ?? "invalid",
    });
  }
  const grpcListen = parseHostPort(result.data.grpc_listen);
  const tls = loadServerTls({
    section: parsed.tls,
    file: file ?? "(defaults)",
    source,
    cwd,
    grpcListen,
    grpcListenFromEnv: env.VIGIL_GRPC_LISTEN ? "VIGIL_GRPC_LISTEN" : undefined,
    env,
  });
  return {
    dataDir: resolve(cwd, result.data.data_dir),
    httpListen: parseHostPort(result.data.http_listen),
    grpcListen,
    tls,
    logLevel: result.data.log_level,
    maxMessageBytes: parsed.ingest.max_message_bytes,
    alertRules,
    agentSettings: agentSettingsFrom(parsed.agents),
    storage: storageSettingsFrom(parsed.storage),
    ...(result.data.agent_bundle === undefined
      ? {}
      : { agentBundlePath: resolve(cwd, result.data.agent_bundle) }),
    file,
  };
}

/**
 * Reads only `[[alert.rules]]` from a server config file (SIGHUP reload): the whole file is validated
 * first, so a reload never swaps in rules from a file the server would refuse to start with.
 */
export function loadAlertRules(file: string): Rule[] {
  return loadAlertConfig(file).rules;
}

/** What SIGHUP reloads: `[[alert.rules]]` and `[agents."ID"]`, from a file validated whole first. */
export function loadAlertConfig(file: string): {
  rules: Rule[];
  agentSettings: Map<string, AgentSettings>;
} {
  const { source, data } = readTomlFile(file);
  const parsed = validateConfig(file, source, data, serverConfigSchema);
  return { rules: parseRules(data, file, source), agentSettings: agentSettingsFrom(parsed.agents) };
}
