import type { ApiTokenRecord, Catalog } from "@vigil/storage";
import type { FastifyReply, FastifyRequest } from "fastify";
import { hashSecret, parseBearer } from "../auth/secrets.js";
import { HttpError } from "./http-error.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The API token the request authenticated with; set by the auth hook on every non-public route. */
    apiToken?: ApiTokenRecord;
  }
}

/** Routes anyone may call without credentials. Everything else needs a bearer token. */
const PUBLIC_ROUTES = new Set(["/api/v1/health"]);

/**
 * `config.auth` of a route that agents call with their own API key (agent self-update) instead of an
 * API token; such a route checks the key itself.
 */
export const AGENT_KEY_AUTH = "agent-key" as const;

declare module "fastify" {
  interface FastifyContextConfig {
    /** `AGENT_KEY_AUTH`: the route authenticates agent keys itself; the API-token hook skips it. */
    auth?: typeof AGENT_KEY_AUTH;
  }
}

/** Rejects requests without a valid `Authorization: Bearer <token>` (401), except public routes. */
export function createAuthHook(catalog: Catalog) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const route = request.routeOptions.url;
    if (route === undefined || PUBLIC_ROUTES.has(route)) return;
    if (request.routeOptions.config.auth === AGENT_KEY_AUTH) return;
    const token = parseBearer(request.headers.authorization);
    if (token === undefined) {
      throw new HttpError(401, "unauthorized", "missing bearer token: send `Authorization: Bearer <token>`");
    }
    const record = catalog.apiTokenForHash(hashSecret(token));
    if (!record) throw new HttpError(401, "unauthorized", "unknown or revoked API token");
    request.apiToken = record;
  };
}
