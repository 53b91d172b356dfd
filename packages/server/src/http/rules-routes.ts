import type { FastifyInstance, FastifyRequest } from "fastify";
import { type AlertRuleSet, isRuleChangeError, type RuleEntry } from "../alert-rule-set.js";
import { HttpError } from "./http-error.js";

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", minLength: 1, maxLength: 300 } },
} as const;
/** The rule itself is validated by the alert engine, which names the field at fault. */
const RULE_BODY = { type: "object" } as const;

/**
 * `/api/v1/rules`: every rule in force, from the config file (read-only here) and from the API (stored
 * in vigil.db). Reading needs any token; creating, replacing and deleting need an admin token.
 */
export function registerRulesRoutes(app: FastifyInstance, rules: AlertRuleSet, now: () => number): void {
  app.get("/api/v1/rules", async () => ({ rules: rules.entries().map(ruleView) }));

  app.get<{ Params: { id: string } }>(
    "/api/v1/rules/:id",
    { schema: { params: ID_PARAMS } },
    async (request) => {
      const entry = rules.get(request.params.id);
      if (!entry)
        throw new HttpError(404, "not_found", `no rule with id ${JSON.stringify(request.params.id)}`);
      return ruleView(entry);
    },
  );

  app.post<{ Body: unknown }>("/api/v1/rules", { schema: { body: RULE_BODY } }, async (request, reply) => {
    const by = requireAdmin(request);
    const entry = change(() => rules.create(request.body, by, now()));
    return reply.status(201).send(ruleView(entry));
  });

  app.put<{ Params: { id: string }; Body: unknown }>(
    "/api/v1/rules/:id",
    { schema: { params: ID_PARAMS, body: RULE_BODY } },
    async (request) => {
      const by = requireAdmin(request);
      return ruleView(change(() => rules.replace(request.params.id, request.body, by, now())));
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/api/v1/rules/:id",
    { schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const by = requireAdmin(request);
      change(() => rules.remove(request.params.id, by));
      return reply.status(204).send();
    },
  );
}

function requireAdmin(request: FastifyRequest): string {
  const token = request.apiToken;
  if (token?.role !== "admin")
    throw new HttpError(403, "forbidden", "changing alert rules needs an admin token");
  return token.name;
}

function change<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!isRuleChangeError(err)) throw err;
    const status = err.code === "invalid_rule" ? 400 : err.code === "not_found" ? 404 : 409;
    throw new HttpError(status, err.code, err.message);
  }
}

function ruleView(e: RuleEntry) {
  return {
    id: e.id,
    name: e.rule.name,
    kind: e.rule.kind,
    severity: e.rule.severity,
    source: e.source,
    spec: e.rule.spec,
    created_at: e.stored?.createdAt ?? null,
    updated_at: e.stored?.updatedAt ?? null,
    updated_by: e.stored?.updatedBy ?? null,
  };
}
