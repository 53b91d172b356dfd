import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import {
  builtinCollectors,
  type CollectorRegistration,
  defaultOptions,
  isCollectorModuleError,
  loadCollectorModule,
} from "@vigil/collectors";
import {
  AGENT_ID_RE,
  AGENT_ID_RULE,
  ConfigError,
  findTomlKeyLine,
  type HostPort,
  isConfigError,
  isLoopbackHost,
  type LogLevel,
  parseHostPort,
  readTomlFile,
  validateConfig,
  zDurationMs,
  zHostPort,
  zLogLevel,
} from "@vigil/common";
import * as z from "zod";
import { zByteSize } from "./byte-size.js";
import {
  applyOverride,
  type EnvOverride,
  expandEnvRefs,
  overrideValue,
  readEnvOverrides,
} from "./env-overrides.js";
import { type AgentTls, loadAgentTls, plaintextProblem } from "./tls-config.js";
import { type UpdateSettings, updateSection, updateSettings } from "./update-config.js";

/** The `[collectors.NAME]` section of one collector: enabled, interval, and the collector's own options. */
function collectorSection(registration: CollectorRegistration) {
  return z.strictObject({
    enabled: z.boolean().optional(),
    interval: zDurationMs({ minMs: 100, maxMs: 86_400_000 }).optional(),
    ...registration.options.shape,
  });
}

/** `stream.keepalive_time` when not set: a ping after 30 s without one answered. */
export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
/** `stream.keepalive_timeout` when not set: a ping unanswered for 10 s means the connection is dead. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;

/** `buffer.spool_max_bytes` when not set: 256 MiB. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The agent TOML schema for the given collectors (default: the built-in ones); each collector's options
 * schema is merged into its `[collectors.NAME]` section. `config/agent.example.toml` documents every key.
 */
export function agentConfigSchema(registrations: readonly CollectorRegistration[] = builtinCollectors()) {
  return z.strictObject({
    plugins: z.array(z.string().min(1)).default([]),
    agent_id: z.string().regex(AGENT_ID_RE, AGENT_ID_RULE).optional(),
    server: zHostPort.default("127.0.0.1:9801"),
    api_key: z.string().min(1).optional(),
    api_key_file: z.string().min(1).optional(),
    log_level: zLogLevel.default("info"),
    labels: z
      .record(
        z.string().regex(labelName, "label names are letters, digits and _, not starting with a digit"),
        z.string(),
      )
      .default({}),
    paths: z
      .strictObject({
        procfs: z.string().min(1).default("/proc"),
        sysfs: z.string().min(1).default("/sys"),
      })
      .prefault({}),
    buffer: z
      .strictObject({
        max_samples: z.number().int().min(1_000).max(100_000_000).default(1_000_000),
        spool_dir: z.string().min(1).optional(),
        spool_max_bytes: zByteSize({ min: 65_536, max: 2 ** 40 }).default(DEFAULT_SPOOL_MAX_BYTES),
      })
      .prefault({}),
    stream: z
      .strictObject({
        batch_max_samples: z.number().int().min(1).max(100_000).default(5_000),
        flush_interval: zDurationMs({ minMs: 50, maxMs: 600_000 }).default(1_000),
        max_in_flight: z.number().int().min(1).max(1_000).default(16),
        reconnect_backoff_initial: zDurationMs({ minMs: 10, maxMs: 600_000 }).default(500),
        reconnect_backoff_max: zDurationMs({ minMs: 10, maxMs: 3_600_000 }).default(30_000),
        shutdown_timeout: zDurationMs({ minMs: 0, maxMs: 600_000 }).default(5_000),
        // The server allows pings down to 10 s (GRPC_SERVER_OPTIONS), so never ping more often.
        keepalive_time: zDurationMs({ minMs: 10_000, maxMs: 3_600_000 }).default(DEFAULT_KEEPALIVE_TIME_MS),
        keepalive_timeout: zDurationMs({ minMs: 1_000, maxMs: 600_000 }).default(
          DEFAULT_KEEPALIVE_TIMEOUT_MS,
        ),
      })
      .prefault({}),
    tls: z
      .strictObject({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        server_name: z.string().min(1).optional(),
        insecure: z.boolean().default(false),
      })
      .prefault({}),
    update: updateSection.prefault({}),
    collectors: z
      .strictObject(Object.fromEntries(registrations.map((r) => [r.name, collectorSection(r).optional()])))
      .prefault({}),
  });
}

export interface CollectorSettings {
  readonly enabled: boolean | undefined;
  readonly intervalMs: number | undefined;
  /** The collector's own options, validated, defaults applied. */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface AgentConfig {
  readonly file: string;
  /** Third-party collector modules, absolute paths, in the order given. */
  readonly plugins: readonly string[];
  /** Every collector this config can name: the built-ins, then one per plugin. */
  readonly registrations: readonly CollectorRegistration[];
  readonly agentId: string;
  readonly server: HostPort;
  /** Inline key, if the config has one (prefer `apiKeyFile`). */
  readonly apiKey: string | undefined;
  /** Absolute; relative paths in the file are relative to the config file's directory. */
  readonly apiKeyFile: string | undefined;
  readonly logLevel: LogLevel;
  readonly labels: Readonly<Record<string, string>>;
  readonly procfsRoot: string;
  readonly sysfsRoot: string;
  readonly bufferMaxSamples: number;
  /** Absolute spool directory (relative paths are relative to the config file's directory), or none. */
  readonly spoolDir: string | undefined;
  readonly spoolMaxBytes: number;
  readonly batchMaxSamples: number;
  readonly flushIntervalMs: number;
  readonly maxInFlight: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly shutdownTimeoutMs: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** TLS for the stream and `enroll`, certificates already read and checked; undefined = plaintext. */
  readonly tls: AgentTls | undefined;
  /** `tls.insecure`: plaintext allowed to a server that is not on loopback. */
  readonly insecure: boolean;
  readonly collectors: Readonly<Record<string, CollectorSettings>>;
  /** `[update]`: self-update from the server; undefined when off (the default). */
  readonly update: UpdateSettings | undefined;
}

/** Collector names the agent uses itself, which a plugin may not take. */
export const RESERVED_COLLECTOR_NAMES: readonly string[] = ["agent"];

export interface LoadAgentConfigOptions {
  /**
   * The environment for `VIGIL_AGENT__*` overrides and `${NAME}` references (default: none, so a
   * test reads only its file; the CLI passes `process.env`).
   */
  readonly env?: NodeJS.ProcessEnv;
  /** The built-in collectors (default: `builtinCollectors()`). */
  readonly builtins?: readonly CollectorRegistration[];
}

/**
 * Loads and validates an agent config file: expands `${NAME}` in its string values, applies the
 * `VIGIL_AGENT__*` overrides, loads the `plugins` modules, then validates everything against the
 * built-in and plugin collectors' schemas. Throws ConfigError naming file, line and key, or the
 * variable when an override is at fault.
 */
export async function loadAgentConfig(file: string, opts: LoadAgentConfigOptions = {}): Promise<AgentConfig> {
  const env = opts.env ?? {};
  const builtins = opts.builtins ?? builtinCollectors();
  const { source, data: raw } = readTomlFile(file);
  const data = expandEnvRefs(raw, env, (path, variable) => {
    throw new ConfigError({
      file,
      line: findTomlKeyLine(source, path),
      key: path.join("."),
      problem: `\${${variable}} refers to an environment variable that is not set`,
    });
  }) as Record<string, unknown>;
  const overrides = readEnvOverrides(env);
  const locate = (dotted: string): { file: string; line?: number | undefined; key: string } => {
    const o = overrideFor(overrides, dotted);
    return o
      ? { file: "environment", key: o.variable }
      : { file, line: findLine(source, dotted), key: dotted };
  };

  // Plugins first: their option schemas are part of the schema everything else is validated against.
  const pluginOverride = overrides.find((o) => o.path.length === 1 && o.path[0] === "plugins");
  if (pluginOverride)
    applyOverride(data, pluginOverride, overrideValue(pluginOverride, agentConfigSchema([])));
  const plugins = await loadPlugins(file, data.plugins, builtins, locate);
  const registrations = [...builtins, ...plugins.registrations];
  const schema = agentConfigSchema(registrations);
  for (const o of overrides) if (o !== pluginOverride) applyOverride(data, o, overrideValue(o, schema));

  let c: z.output<typeof schema>;
  try {
    c = validateCollectorNames(() => validateConfig(file, source, data, schema), registrations);
  } catch (err) {
    const o = isConfigError(err) && err.key !== undefined ? overrideFor(overrides, err.key) : undefined;
    if (o && isConfigError(err))
      throw new ConfigError({
        file: "environment",
        key: o.variable,
        problem: err.key === o.path.join(".") ? err.problem : `${err.key}: ${err.problem}`,
      });
    throw err;
  }
  if (c.api_key !== undefined && c.api_key_file !== undefined) {
    throw new ConfigError({ ...locate("api_key"), problem: "set api_key or api_key_file, not both" });
  }
  if (c.stream.reconnect_backoff_max < c.stream.reconnect_backoff_initial) {
    throw new ConfigError({
      ...locate("stream.reconnect_backoff_max"),
      problem: "must not be shorter than stream.reconnect_backoff_initial",
    });
  }
  const base = dirname(resolve(file));
  const tls = loadAgentTls(c.tls, base, locate);
  if (!tls && !c.tls.insecure && !isLoopbackHost(parseHostPort(c.server).host)) {
    throw new ConfigError({ ...locate("server"), problem: plaintextProblem(c.server) });
  }
  const update = updateSettings(c.update, c.tls.insecure, locate);
  const agentId = c.agent_id ?? hostname();
  if (!AGENT_ID_RE.test(agentId)) {
    throw new ConfigError({
      file,
      key: "agent_id",
      problem: `the hostname "${agentId}" is not a valid agent id; set agent_id (${AGENT_ID_RULE})`,
    });
  }
  return {
    file,
    plugins: plugins.paths,
    registrations,
    agentId,
    server: parseHostPort(c.server),
    apiKey: c.api_key,
    apiKeyFile: c.api_key_file === undefined ? undefined : resolve(base, c.api_key_file),
    logLevel: c.log_level,
    labels: c.labels,
    procfsRoot: resolve(base, c.paths.procfs),
    sysfsRoot: resolve(base, c.paths.sysfs),
    bufferMaxSamples: c.buffer.max_samples,
    spoolDir: c.buffer.spool_dir === undefined ? undefined : resolve(base, c.buffer.spool_dir),
    spoolMaxBytes: c.buffer.spool_max_bytes,
    batchMaxSamples: c.stream.batch_max_samples,
    flushIntervalMs: c.stream.flush_interval,
    maxInFlight: c.stream.max_in_flight,
    backoffInitialMs: c.stream.reconnect_backoff_initial,
    backoffMaxMs: c.stream.reconnect_backoff_max,
    shutdownTimeoutMs: c.stream.shutdown_timeout,
    keepaliveTimeMs: c.stream.keepalive_time,
    keepaliveTimeoutMs: c.stream.keepalive_timeout,
    tls,
    insecure: c.tls.insecure,
    update,
    collectors: Object.fromEntries(
      registrations.map((r) => {
        const section = (c.collectors as Record<string, Record<string, unknown> | undefined>)[r.name];
        if (!section)
          return [r.name, { enabled: undefined, intervalMs: undefined, options: defaultOptions(r) }];
        const { enabled, interval, ...options } = section;
        return [
          r.name,
          { enabled: enabled as boolean | undefined, intervalMs: interval as number | undefined, options },
        ];
      }),
    ),
  };
}

/** The override that set `dotted`, one of its parents, or one of its children. */
function overrideFor(overrides: readonly EnvOverride[], dotted: string): EnvOverride | undefined {
  return overrides.find((o) => {
    const path = o.path.join(".");
    return path === dotted || dotted.startsWith(`${path}.`) || path.startsWith(`${dotted}.`);
  });
}

/**
 * Loads the `plugins` modules (paths relative to the config file's directory). A bad list, a module
 * that does not load, or a collector name already taken is a ConfigError at the `plugins` key.
 */
async function loadPlugins(
  file: string,
  value: unknown,
  builtins: readonly CollectorRegistration[],
  locate: (dotted: string) => { file: string; line?: number | undefined; key: string },
): Promise<{ paths: string[]; registrations: CollectorRegistration[] }> {
  if (value === undefined) return { paths: [], registrations: [] };
  if (!Array.isArray(value) || value.some((p) => typeof p !== "string" || p === ""))
    throw new ConfigError({
      ...locate("plugins"),
      problem: 'expected an array of module paths, e.g. plugins = ["/etc/vigil/plugins/redis.mjs"]',
    });
  const base = dirname(resolve(file));
  const paths = (value as string[]).map((p) => resolve(base, p));
  const taken = new Map<string, string>(builtins.map((r) => [r.name, "a built-in collector"]));
  for (const name of RESERVED_COLLECTOR_NAMES) taken.set(name, "reserved for the agent's own metrics");
  const registrations: CollectorRegistration[] = [];
  for (const path of paths) {
    let registration: CollectorRegistration;
    try {
      registration = await loadCollectorModule(path);
    } catch (err) {
      if (!isCollectorModuleError(err)) throw err;
      throw new ConfigError({ ...locate("plugins"), problem: err.message });
    }
    const owner = taken.get(registration.name);
    if (owner !== undefined)
      throw new ConfigError({
        ...locate("plugins"),
        problem: `collector module ${path}: its collector "${registration.name}" clashes with ${owner}`,
      });
    taken.set(registration.name, `the plugin ${path}`);
    registrations.push(registration);
  }
  return { paths, registrations };
}

/** Says "unknown collector" rather than "unknown key" for a `[collectors.NAME]` section nobody registered. */
function validateCollectorNames<T>(validate: () => T, registrations: readonly CollectorRegistration[]): T {
  try {
    return validate();
  } catch (err) {
    if (
      isConfigError(err) &&
      err.key?.split(".").length === 2 &&
      err.key.startsWith("collectors.") &&
      err.problem.startsWith("unknown key")
    ) {
      const name = err.key.slice("collectors.".length);
      throw new ConfigError({
        file: err.file,
        line: err.line,
        key: err.key,
        problem: `unknown collector "${name}" (known: ${registrations.map((r) => r.name).join(", ")})`,
      });
    }
    throw err;
  }
}

function findLine(source: string, dotted: string): number | undefined {
  return findTomlKeyLine(source, dotted.split("."));
}
