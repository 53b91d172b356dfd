import { readFileSync } from "node:fs";
import { runRuleTests } from "@vigil/alerts";
import {
  createLogger,
  isConfigError,
  isUsageError,
  onShutdownSignal,
  parseCliArgs,
  parseDuration,
  UsageError,
} from "@vigil/common";
import { Catalog } from "@vigil/storage";
import { createApiToken, createEnrollToken, DEFAULT_ENROLL_TTL } from "../auth/token-admin.js";
import { loadAlertConfig, loadServerConfig, type ServerConfig } from "../config.js";
import { startServer } from "../server.js";
import { SERVER_VERSION } from "../version.js";
import { rulesBacktestCommand } from "./rules-backtest.js";
import { storageCommand } from "./storage-command.js";

const USAGE = `Usage:
  vigil-server [--config FILE]                     run the server (defaults: data in ./data,
                                                   HTTP 127.0.0.1:9800, gRPC 127.0.0.1:9801)
  vigil-server check-config FILE                   validate a config file and exit
  vigil-server token create [--config FILE] --name NAME [--role admin|viewer]
                                                   create an API token; it is printed once
  vigil-server enroll-token create [--config FILE] [--ttl 1h]
                                                   create a one-time agent enrolment token
  vigil-server rules test FILE                     run alert rule unit tests (docs/alerting.md);
                                                   exit 0 all pass, 1 a case failed, 2 bad file
  vigil-server rules backtest [--config FILE] --rule NAME [--rule-file FILE.toml] --from -7d [--to now]
                     [--eval-interval 1s] [--json]
                                                   replay stored samples through a rule and list when
                                                   it would have fired and resolved
  vigil-server storage check [--config FILE] [--quick]
                                                   integrity_check on vigil.db, rollups.db and every
                                                   day file; exit 0 all ok, 1 a file failed
  vigil-server --help | --version

Signals: SIGHUP reloads [[alert.rules]] and [agents."ID"] from the config file (an invalid file keeps the old ones).
Environment: VIGIL_DATA_DIR, VIGIL_HTTP_LISTEN, VIGIL_GRPC_LISTEN, VIGIL_LOG_LEVEL override the config.
Exit status: 0 ok, 1 runtime failure, 2 bad usage or bad config.`;

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Runs the CLI; resolves to the exit status (the server itself resolves when it has stopped). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (isUsageError(err)) {
      io.stderr.write(`vigil-server: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (isConfigError(err)) {
      io.stderr.write(`vigil-server: invalid config: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`vigil-server: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === "--version") {
    io.stdout.write(`${SERVER_VERSION}\n`);
    return 0;
  }
  if (command === "check-config") {
    const { positionals } = parseCliArgs(rest, {}, 1);
    const file = positionals[0];
    if (!file) throw new UsageError("check-config needs a FILE");
    const config = loadServerConfig(file, io.env, io.cwd);
    const rules = config.alertRules.length;
    io.stdout.write(
      `${file}: ok (data_dir ${config.dataDir}, ${rules} alert rule${rules === 1 ? "" : "s"})\n`,
    );
    return 0;
  }
  if (command === "token") return tokenCommand(rest, io);
  if (command === "enroll-token") return enrollTokenCommand(rest, io);
  if (command === "rules") return rulesCommand(rest, io);
  if (command === "storage") return storageCommand(rest, io);
  if (command !== undefined && !command.startsWith("-")) throw new UsageError(`unknown command "${command}"`);
  const { values } = parseCliArgs(argv, { config: { type: "string" } }, 0);
  return runServer(loadServerConfig(values.config, io.env, io.cwd), io);
}

function tokenCommand(argv: readonly string[], io: CliIo): number {
  const [sub, ...rest] = argv;
  if (sub !== "create") throw new UsageError(`unknown token command "${sub ?? ""}" (expected "create")`);
  const { values } = parseCliArgs(
    rest,
    { config: { type: "string" }, name: { type: "string" }, role: { type: "string" } },
    0,
  );
  if (!values.name) throw new UsageError("token create needs --name NAME");
  const role = values.role ?? "admin";
  if (role !== "admin" && role !== "viewer")
    throw new UsageError(`--role must be admin or viewer, not "${role}"`);
  const config = loadServerConfig(values.config, io.env, io.cwd);
  const catalog = Catalog.open(config.dataDir);
  try {
    io.stdout.write(`${createApiToken(catalog, values.name, role, Date.now())}\n`);
  } finally {
    catalog.close();
  }
  return 0;
}

function enrollTokenCommand(argv: readonly string[], io: CliIo): number {
  const [sub, ...rest] = argv;
  if (sub !== "create")
    throw new UsageError(`unknown enroll-token command "${sub ?? ""}" (expected "create")`);
  const { values } = parseCliArgs(rest, { config: { type: "string" }, ttl: { type: "string" } }, 0);
  const ttl = values.ttl ?? DEFAULT_ENROLL_TTL;
  try {
    parseDuration(ttl);
  } catch (err) {
    throw new UsageError(`--ttl: ${(err as Error).message}`);
  }
  const config = loadServerConfig(values.config, io.env, io.cwd);
  const catalog = Catalog.open(config.dataDir);
  try {
    io.stdout.write(`${createEnrollToken(catalog, ttl, Date.now()).token}\n`);
  } finally {
    catalog.close();
  }
  return 0;
}

function rulesCommand(argv: readonly string[], io: CliIo): number | Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "backtest") return rulesBacktestCommand(rest, io);
  if (sub !== "test")
    throw new UsageError(`unknown rules command "${sub ?? ""}" (expected "test" or "backtest")`);
  const { positionals } = parseCliArgs(rest, {}, 1);
  const file = positionals[0];
  if (!file) throw new UsageError("rules test needs a FILE");
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    io.stderr.write(`vigil-server: ${file}: cannot read the file (${(err as NodeJS.ErrnoException).code})\n`);
    return 2;
  }
  let report: ReturnType<typeof runRuleTests>;
  try {
    report = runRuleTests({ file, source });
  } catch (err) {
    // A malformed test file, rule or rule file (ConfigError naming file, line and key, or a plain Error).
    io.stderr.write(
      `vigil-server: invalid rule test file: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 2;
  }
  let failed = 0;
  for (const c of report.cases) {
    io.stdout.write(`${c.passed ? "PASS" : "FAIL"}  ${c.name}\n`);
    if (c.passed) continue;
    failed++;
    for (const f of c.failures) {
      io.stdout.write(`    alertname ${f.alertname}, eval_time ${f.evalTimeMs / 1000}s:\n`);
      for (const line of f.diff.split("\n")) io.stdout.write(`      ${line}\n`);
    }
  }
  const n = report.cases.length;
  io.stdout.write(
    report.passed
      ? `${file}: ${n} test case${n === 1 ? "" : "s"} passed\n`
      : `${file}: ${failed} of ${n} test cases failed\n`,
  );
  return report.passed ? 0 : 1;
}

async function runServer(config: ServerConfig, io: CliIo): Promise<number> {
  const logger = createLogger({ name: "vigil-server", level: config.logLevel, destination: io.stdout });
  const server = await startServer(config, logger);
  if (server.firstToken) {
    // Shown once, on the terminal only: the catalog keeps just its hash and no log line carries it.
    io.stderr.write(
      `\nvigil-server: first start: created API token "admin" (role admin). It is shown only now:\n\n    ${server.firstToken}\n\n` +
        `Use it as "Authorization: Bearer <token>". Create more with: vigil-server token create --name NAME\n\n`,
    );
  }
  const reload = () => {
    if (!config.file) {
      logger.warn("SIGHUP: no --config file, no alert rules to reload");
      return;
    }
    try {
      const { rules, agentSettings } = loadAlertConfig(config.file);
      server.setAlertRules(rules);
      server.setAgentSettings(agentSettings);
    } catch (err) {
      logger.error(
        { file: config.file, err: err instanceof Error ? err.message : String(err) },
        "alert rules reload failed; keeping the old rules",
      );
    }
  };
  process.on("SIGHUP", reload);
  await new Promise<void>((resolve) => {
    onShutdownSignal(() => {
      process.off("SIGHUP", reload);
      void server.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, "error while stopping");
        resolve();
      });
    }, logger);
  });
  logger.info("vigil-server stopped");
  return 0;
}
