import type { Logger } from "@vigil/common";
import { type Catalog, isStorageError, type StorageEngine } from "@vigil/storage";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from "fastify";
import type { AlertRuleSet } from "../alert-rule-set.js";
import type { ServerAlerting } from "../alerting.js";
import { registerAgentLatestRoute } from "./agent-latest-route.js";
import { registerAgentUpdateRoutes } from "./agent-update-route.js";
import { registerAgentsRoutes } from "./agents-routes.js";
import { registerAlertsRoutes } from "./alerts-routes.js";
import { createAuthHook } from "./auth-hook.js";
import { registerBacktestRoute } from "./backtest-route.js";
import { isHttpError } from "./http-error.js";
import { registerMetricsRoute } from "./metrics-route.js";
import { registerRulesRoutes } from "./rules-routes.js";
import { registerStatsRoute } from "./stats-route.js";

export interface HttpDeps {
  readonly catalog: Catalog;
  readonly storage: StorageEngine;
  readonly logger: Logger;
  readonly version: string;
  readonly now: () => number;
  readonly startedAt: number;
  /** The alert engine: active alerts and host health. */
  readonly alerts?: ServerAlerting;
  /** The alert rules in force (config and API); `/api/v1/rules` is served when given. */
  readonly rules?: AlertRuleSet;
  /** The agent bundle for self-update (`server.agent_bundle`); default: this checkout's build. */
  readonly agentBundlePath?: string | undefined;
}

/** The HTTP API: JSON everywhere, errors as `{"error", "code"}`, bearer tokens on all but health. */
export function createHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request lines would drown the log; requests are logged at debug in onResponse below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // Reject unknown query parameters instead of silently ignoring a typo like `?metirc=`.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isHttpError(err)) {
      return reply.status(err.statusCode).send({ error: err.message, code: err.code });
    }
    // Storage refuses queries it cannot answer (too many buckets or points): the caller's to fix.
    if (isStorageError(err) && (err.code === "invalid_query" || err.code === "too_many_points")) {
      return reply.status(400).send({ error: err.message, code: "bad_request" });
    }
    if (err.validation) {
      // Name the parameter: ajv's "must NOT have additional properties" does not say which.
      const extra = err.validation.find((v) => v.keyword === "additionalProperties")?.params
        .additionalProperty;
      const error =
        typeof extra !== "string"
          ? err.message
          : err.validationContext === "querystring"
            ? `unknown query parameter "${extra}"`
            : `${err.validationContext ?? "request"}: unknown property "${extra}"`;
      return reply.status(400).send({ error, code: "bad_request" });
    }
    const statusCode = err.statusCode ?? 500;
    if (statusCode >= 500) {
      request.log.error({ err, url: request.url }, "request failed");
      return reply.status(statusCode).send({ error: "internal server error", code: "internal" });
    }
    return reply.status(statusCode).send({ error: err.message, code: err.code ?? "bad_request" });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: `no route ${request.method} ${request.url.split("?")[0]}`, code: "not_found" }),
  );
  app.addHook("onRequest", createAuthHook(deps.catalog));
  app.addHook("onResponse", async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode }, "http request");
  });

  app.get("/api/v1/health", async () => ({
    status: "ok",
    version: deps.version,
    uptime_seconds: Math.round((deps.now() - deps.startedAt) / 1000),
  }));
  registerMetricsRoute(app, deps.storage, deps.now);
  registerStatsRoute(app, deps.storage, deps.now);
  registerAgentLatestRoute(app, deps.catalog, deps.storage);
  registerAgentsRoutes(app, deps.catalog, deps.storage, deps.now, deps.alerts);
  if (deps.alerts) registerAlertsRoutes(app, deps.alerts, deps.now);
  if (deps.rules) {
    registerRulesRoutes(app, deps.rules, deps.now);
    registerBacktestRoute(app, {
      catalog: deps.catalog,
      storage: deps.storage,
      rules: deps.rules,
      now: deps.now,
    });
  }
  registerAgentUpdateRoutes(app, deps);
  return app;
}
