import type { Catalog, StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import type { ServerAlerting } from "../alerting.js";
import { HttpError } from "./http-error.js";

/**
 * An agent not heard from for this long is shown as down (counted by the alert engine after its start
 * grace, see docs/alerting.md#host-health).
 */
export const AGENT_DOWN_AFTER_MS = 120_000;

/** `GET /api/v1/agents`, `GET /api/v1/agents/:id` and `GET /api/v1/series?agent=&metric=`. */
export function registerAgentsRoutes(
  app: FastifyInstance,
  catalog: Catalog,
  storage: StorageEngine,
  now: () => number,
  alerts?: ServerAlerting,
): void {
  const view = (a: ReturnType<Catalog["listAgents"]>[number]) => ({
    id: a.id,
    hostname: a.hostname,
    version: a.version,
    labels: a.labels,
    first_seen: a.firstSeen,
    last_seen: a.lastSeen,
    status:
      alerts?.agentHealth(a.id, now())?.status ??
      (now() - a.lastSeen > AGENT_DOWN_AFTER_MS ? "down" : "healthy"),
    // "maintenance" | "expected_offline" while the agent's offline alerts are suppressed, else null.
    suppressed: alerts?.agentHealth(a.id, now())?.suppressed ?? null,
  });
  app.get("/api/v1/agents", async () => ({ agents: catalog.listAgents().map(view) }));
  app.get<{ Params: { id: string } }>("/api/v1/agents/:id", async (request) => {
    const agent = catalog.getAgent(request.params.id);
    if (!agent) throw new HttpError(404, "not_found", `no agent "${request.params.id}"`);
    return view(agent);
  });
  app.get<{ Querystring: { agent?: string; metric?: string } }>(
    "/api/v1/series",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { agent: { type: "string", minLength: 1 }, metric: { type: "string", minLength: 1 } },
        },
      },
    },
    async (request) => {
      const series = await storage.listSeries({ agentId: request.query.agent, metric: request.query.metric });
      return {
        series: series.map((s) => ({ id: s.id, agent: s.agentId, metric: s.metric, labels: s.labels })),
      };
    },
  );
}
