import { mkdirSync } from "node:fs";
import { basename } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { AgentSettings, Rule, SystemEventInput } from "@vigil/alerts";
import { formatHostPort, type Logger } from "@vigil/common";
import { ingestServerDefinition } from "@vigil/protocol";
import { Catalog, ChunkedStorageEngine, type QuarantinedFile, type StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { AlertRuleSet } from "./alert-rule-set.js";
import { type ServerAlerting, startAlerting } from "./alerting.js";
import { createApiToken } from "./auth/token-admin.js";
import type { ServerConfig } from "./config.js";
import { type GrpcTlsListener, listenGrpcTls } from "./grpc-tls-listener.js";
import { AGENT_DOWN_AFTER_MS } from "./http/agents-routes.js";
import { createHttpServer } from "./http/http-server.js";
import { createIngestHandlers } from "./ingest/ingest-service.js";
import { prepareServerStorage, type ServerStorage } from "./storage-setup.js";
import { SERVER_VERSION } from "./version.js";

/** gRPC keepalive: agents ping every 30 s; allow pings down to 10 s so no agent is cut for `too_many_pings`. */
const GRPC_SERVER_OPTIONS = {
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 10_000,
  "grpc.http2.max_ping_strikes": 0,
};
// Agent streams never end by themselves: give in-flight batches a moment, then cut the streams (agents resend).
const SHUTDOWN_GRACE_MS = 1_000;

export interface RunningServer {
  readonly httpAddress: string;
  readonly grpcAddress: string;
  /** The admin API token created on the very first start, or undefined. Never logged. */
  readonly firstToken: string | undefined;
  /** Swaps in the config file's alert rules (validated by the caller), e.g. on SIGHUP; throws when one is named like an API rule (the old rules stay). */
  setAlertRules(rules: readonly Rule[]): void;
  /** Swaps in per-agent alert settings (maintenance, expected_offline), e.g. on SIGHUP. */
  setAgentSettings(settings: ReadonlyMap<string, AgentSettings>): void;
  stop(): Promise<void>;
}

/** Opens the data directory, binds gRPC and HTTP, and serves until `stop()`. */
export async function startServer(
  config: ServerConfig,
  logger: Logger,
  now: () => number = Date.now,
): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const catalog = Catalog.open(config.dataDir, logger.child({ component: "catalog" }));
  let storage: StorageEngine | undefined;
  let grpc: Server | undefined;
  let http: FastifyInstance | undefined;
  let alerting: ServerAlerting | undefined;
  let serverStorage: ServerStorage | undefined;
  let tlsListener: GrpcTlsListener | undefined;
  const closeAll = async () => {
    alerting?.stop();
    tlsListener?.close();
    if (grpc) await shutdownGrpc(grpc);
    if (http) await http.close();
    await serverStorage?.stopTasks();
    if (storage) await storage.close();
    serverStorage?.close();
    catalog.close();
  };
  try {
    // Quarantine (day files failing quick_check), rollups.db, and the retention hook; see storage-setup.ts.
    serverStorage = prepareServerStorage({
      dataDir: config.dataDir,
      settings: config.storage,
      logger: logger.child({ component: "storage" }),
      now,
    });
    const engine = ChunkedStorageEngine.open({
      dataDir: config.dataDir,
      catalog,
      logger: logger.child({ component: "storage" }),
      ...serverStorage.engineOptions,
      // Logged by the engine at open ("storage engine opened"), with the synchronous pragma it means.
      durability: config.storage?.durability,
      walMaxBytes: config.storage?.walMaxBytes,
      now,
    });
    storage = engine;
    serverStorage.startTasks(engine);
    const firstToken =
      catalog.countApiTokens() === 0 ? createApiToken(catalog, "admin", "admin", now()) : undefined;
    // Config rules plus the API's (vigil.db), so saved alerts of either bind again at start.
    const ruleSet = AlertRuleSet.load(catalog, config.alertRules, logger.child({ component: "alerts" }));
    const alerts = startAlerting({
      rules: ruleSet.all(),
      agentSettings: config.agentSettings,
      catalog,
      logger: logger.child({ component: "alerts" }),
      now,
      downAfterMs: AGENT_DOWN_AFTER_MS,
    });
    alerting = alerts;
    ruleSet.onChange((rules) => alerts.setRules(rules));
    // Quarantine ran before the engine existed; its events are raised now (logged, in the history).
    for (const q of serverStorage.quarantined) alerts.raiseSystemEvent(quarantineEvent(q));

    grpc = new Server({
      ...GRPC_SERVER_OPTIONS,
      "grpc.max_receive_message_length": config.maxMessageBytes,
    });
    grpc.addService(
      ingestServerDefinition,
      createIngestHandlers({
        catalog,
        storage,
        logger: logger.child({ component: "ingest" }),
        serverVersion: SERVER_VERSION,
        maxMessageBytes: config.maxMessageBytes,
        now,
        alerts,
      }),
    );
    if (config.tls) tlsListener = await listenGrpcTls(grpc, config.grpcListen, config.tls, logger);
    const grpcPort = tlsListener?.port ?? (await bindGrpc(grpc, formatHostPort(config.grpcListen)));
    const grpcAddress = formatHostPort({ host: config.grpcListen.host, port: grpcPort });

    http = createHttpServer({
      catalog,
      storage,
      logger: logger.child({ component: "http" }),
      version: SERVER_VERSION,
      now,
      startedAt: now(),
      alerts,
      rules: ruleSet,
      agentBundlePath: config.agentBundlePath,
    });
    await http.listen({ host: config.httpListen.host, port: config.httpListen.port });
    const httpPort = (http.server.address() as { port: number }).port;
    const httpAddress = formatHostPort({ host: config.httpListen.host, port: httpPort });
    logger.info(
      {
        http: httpAddress,
        grpc: grpcAddress,
        tls: config.tls ? (config.tls.clientCa ? "mutual TLS" : "TLS") : "off",
        dataDir: config.dataDir,
        version: SERVER_VERSION,
      },
      "vigil-server listening",
    );
    return {
      httpAddress,
      grpcAddress,
      firstToken,
      setAlertRules: (rules) => ruleSet.setConfigRules(rules),
      setAgentSettings: (settings) => alerts.setAgentSettings(settings),
      stop: closeAll,
    };
  } catch (err) {
    await closeAll().catch((closeErr: unknown) =>
      logger.error({ err: closeErr }, "cleanup after a failed start failed"),
    );
    throw err;
  }
}

function bindGrpc(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(new Error(`cannot listen for gRPC on ${address}: ${err.message}`));
      else resolve(port);
    });
  });
}

/** Lets open streams finish for a moment, then cuts them. */
function shutdownGrpc(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The alert event for a day file moved aside at start because it failed `quick_check`. */
function quarantineEvent(q: QuarantinedFile): SystemEventInput {
  return {
    name: "StorageDayFileQuarantined",
    severity: "critical",
    agent: "vigil-server",
    labels: { file: basename(q.path) },
    annotations: {
      summary: `${basename(q.path)} failed its integrity check and was moved to ${basename(q.movedTo)}; the other days are served`,
      description: `SQLite reported: ${q.problems.join("; ")}. Inspect or salvage it with: sqlite3 ${q.movedTo} .recover`,
    },
  };
}
