import { hostname } from "node:os";
import { builtinCollectors } from "@vigil/collectors";
import {
  createLogger,
  formatHostPort,
  isConfigError,
  isLoopbackHost,
  isUsageError,
  type Logger,
  onShutdownSignal,
  parseCliArgs,
  parseDuration,
  parseHostPort,
  UsageError,
} from "@vigil/common";
import { startAgent } from "../agent.js";
import { readApiKey } from "../api-key.js";
import { collectOnce, formatSampleText } from "../collect-once.js";
import { enabledCollectors } from "../collector-set.js";
import { type AgentConfig, loadAgentConfig } from "../config.js";
import { register, writeKeyFile } from "../enroll.js";
import { runningBundlePath } from "../running-bundle.js";
import { checkForUpdate } from "../self-update.js";
import { EXIT_UPDATED, startSelfUpdateLoop } from "../self-update-loop.js";
import { plaintextProblem } from "../tls-config.js";
import { scheduleStartupGc } from "../v8-settings.js";
import { AGENT_VERSION } from "../version.js";

const USAGE = `Usage:
  vigil-agent --config FILE                        collect and stream to the server
                                                   (SIGHUP reloads FILE; SIGINT/SIGTERM flush and stop)
  vigil-agent check-config FILE                    validate a config file and exit
  vigil-agent enroll --config FILE --server HOST:PORT --token TOKEN
                                                   exchange a one-time token for an API key,
                                                   written to the config's api_key_file (mode 0600)
  vigil-agent collect --once [--json] [--config FILE] [--interval 1s]
                                                   read every enabled collector and print it
  vigil-agent --help | --version

Exit status: 0 ok, 1 runtime failure, 2 bad usage or bad config,
75 the bundle was replaced by a self-update ([update]): start it again.`;

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** For `VIGIL_AGENT__*` overrides and `${NAME}` references in the config (default: none). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs the CLI and resolves to the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (isUsageError(err)) {
      io.stderr.write(`vigil-agent: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (isConfigError(err)) {
      io.stderr.write(`vigil-agent: invalid config: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`vigil-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "--help":
    case "-h":
    case "help":
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case "--version":
      io.stdout.write(`${AGENT_VERSION}\n`);
      return 0;
    case "check-config": {
      const { positionals } = parseCliArgs(rest, {}, 1);
      if (!positionals[0]) throw new UsageError("check-config needs a FILE");
      const config = await loadAgentConfig(positionals[0], { env: io.env });
      const names = enabledCollectors(config).map((c) => `${c.collector.name}@${c.intervalMs}ms`);
      const plugins = config.plugins.length > 0 ? `, plugins ${config.plugins.join(", ")}` : "";
      io.stdout.write(
        `${positionals[0]}: ok (agent ${config.agentId}, collectors ${names.join(", ")}${plugins})\n`,
      );
      return 0;
    }
    case "enroll":
      return enrollCommand(rest, io);
    case "collect":
      return collectCommand(rest, io);
    default: {
      if (command !== undefined && !command.startsWith("-"))
        throw new UsageError(`unknown command "${command}"`);
      const { values } = parseCliArgs(argv, { config: { type: "string" } }, 0);
      if (!values.config) throw new UsageError("--config FILE is required");
      return runAgent(await loadAgentConfig(values.config, { env: io.env }), io);
    }
  }
}

async function enrollCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    { config: { type: "string" }, server: { type: "string" }, token: { type: "string" } },
    0,
  );
  if (!values.config) throw new UsageError("enroll needs --config FILE");
  if (!values.token)
    throw new UsageError("enroll needs --token TOKEN (from `vigil-server enroll-token create`)");
  const config = await loadAgentConfig(values.config, { env: io.env });
  if (!config.apiKeyFile) throw new UsageError(`${values.config} has no api_key_file to store the key in`);
  let server = config.server;
  if (values.server) {
    try {
      server = parseHostPort(values.server);
    } catch (err) {
      throw new UsageError(`--server: ${(err as Error).message}`);
    }
  }
  if (!config.tls && !config.insecure && !isLoopbackHost(server.host))
    throw new UsageError(`--server: ${plaintextProblem(formatHostPort(server))}`);
  const key = await register(formatHostPort(server), values.token, config.agentId, hostname(), config.tls);
  writeKeyFile(config.apiKeyFile, key);
  io.stdout.write(
    `enrolled agent "${config.agentId}" with ${formatHostPort(server)}; key written to ${config.apiKeyFile}\n`,
  );
  return 0;
}

async function collectCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    {
      once: { type: "boolean" },
      json: { type: "boolean" },
      config: { type: "string" },
      interval: { type: "string" },
    },
    0,
  );
  if (!values.once) throw new UsageError("collect needs --once");
  let intervalMs = 1000;
  if (values.interval !== undefined) {
    try {
      intervalMs = parseDuration(values.interval);
    } catch (err) {
      throw new UsageError(`--interval: ${(err as Error).message}`);
    }
  }
  const config: Pick<AgentConfig, "collectors" | "registrations" | "procfsRoot" | "sysfsRoot"> = values.config
    ? await loadAgentConfig(values.config, { env: io.env })
    : { collectors: {}, registrations: builtinCollectors(), procfsRoot: "/proc", sysfsRoot: "/sys" };
  const logger = createLogger({ name: "vigil-agent", level: "warn", destination: io.stderr });
  const samples = await collectOnce(
    enabledCollectors(config),
    { procfs: config.procfsRoot, sysfs: config.sysfsRoot },
    intervalMs,
    logger,
  );
  for (const s of samples) {
    io.stdout.write(
      values.json
        ? `${JSON.stringify({ metric: s.metric, labels: s.labels, value: s.value, ts: s.ts })}\n`
        : `${formatSampleText(s)}\n`,
    );
  }
  return 0;
}

async function runAgent(config: AgentConfig, io: CliIo): Promise<number> {
  const logger = createLogger({ name: "vigil-agent", level: config.logLevel, destination: io.stdout });
  const agent = startAgent(config, logger);
  const cancelStartupGc = scheduleStartupGc();
  // SIGHUP: re-read the file (and the environment); a bad config leaves the running one in place.
  let reloading = Promise.resolve();
  const onHangup = () => {
    logger.info({ file: config.file }, "SIGHUP: reloading the config");
    reloading = reloading
      .then(async () => {
        agent.reload(await loadAgentConfig(config.file, { env: io.env }));
      })
      .catch((err: unknown) => {
        logger.error(
          { reason: err instanceof Error ? err.message : String(err) },
          "config reload failed; still running on the previous config",
        );
      });
  };
  process.on("SIGHUP", onHangup);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      process.off("SIGHUP", onHangup);
      cancelStartupGc();
      updates?.stop();
      void agent.stop().then(() => resolve(code));
    };
    const updates = startSelfUpdate(config, logger, () => {
      logger.info({ exitCode: EXIT_UPDATED }, "exiting so that the service manager restarts the new bundle");
      stop(EXIT_UPDATED);
    });
    onShutdownSignal(() => stop(0), logger);
  });
}

/**
 * Starts the `[update]` loop when enabled and this process runs from the single-file bundle; when it
 * runs from anything else, logs once that nothing will be replaced. Settings apply at start only.
 */
function startSelfUpdate(
  config: AgentConfig,
  logger: Logger,
  onUpdated: () => void,
): { stop(): void } | undefined {
  const settings = config.update;
  if (!settings) return undefined;
  const bundlePath = runningBundlePath(process.argv[1], import.meta.url);
  if (bundlePath === undefined) {
    logger.info(
      { script: process.argv[1] ?? null },
      "self-update is enabled, but this agent does not run from its single-file bundle (vigil-agent.js); nothing will be replaced",
    );
    return undefined;
  }
  const apiKey = readApiKey(config);
  return startSelfUpdateLoop({
    intervalMs: settings.intervalMs,
    random: Math.random,
    logger,
    onUpdated,
    check: () =>
      checkForUpdate({
        bundlePath,
        baseUrl: settings.baseUrl,
        apiKey,
        ca: config.tls?.ca,
        currentVersion: AGENT_VERSION,
        pid: process.pid,
        logger,
      }),
  });
}
