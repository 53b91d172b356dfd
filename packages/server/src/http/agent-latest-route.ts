import type { Catalog, StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { HttpError } from "./http-error.js";

/**
 * `GET /api/v1/agents/:id/latest?metric=`: the newest sample of every series of the agent (of `metric`
 * when given), `{metric, labels, ts, value}`, ordered by metric then labels. 404 for an unknown agent.
 */
export function registerAgentLatestRoute(
  app: FastifyInstance,
  catalog: Catalog,
  storage: StorageEngine,
): void {
  app.get<{ Params: { id: string }; Querystring: { metric?: string } }>(
    "/api/v1/agents/:id/latest",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { metric: { type: "string", minLength: 1 } },
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!catalog.getAgent(id)) throw new HttpError(404, "not_found", `no agent "${id}"`);
      const samples = await storage.latest({ agentId: id, metric: request.query.metric });
      return { agent: id, samples };
    },
  );
}
