import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRule } from "@vigil/alerts";
import { createLogger } from "@vigil/common";
import { Catalog, ChunkedStorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlertRuleSet } from "../alert-rule-set.js";
import { type ServerAlerting, startAlerting } from "../alerting.js";
import { createApiToken } from "../auth/token-admin.js";
import { createHttpServer } from "./http-server.js";

const T = Date.UTC(2026, 10, 25, 10, 0, 0);
const logger = createLogger({ name: "rules-routes-test", level: "silent" });
const CONFIG_RULE = parseRule({ name: "FromFile", kind: "offline", timeout: "5m" });
const HOT = { name: "Hot", kind: "threshold", metric: "temp", op: ">", threshold: 50, severity: "critical" };

let dir: string;
let catalog: Catalog;
let storage: ChunkedStorageEngine;
let alerts: ServerAlerting;
let ruleSet: AlertRuleSet;
let app: FastifyInstance;
let base: string;
let admin: string;
let viewer: string;
let now = T;

async function boot() {
  catalog = Catalog.open(dir);
  storage = ChunkedStorageEngine.open({ dataDir: dir, catalog });
  ruleSet = AlertRuleSet.load(catalog, [CONFIG_RULE], logger);
  alerts = startAlerting({ rules: ruleSet.all(), catalog, logger, now: () => now, tickMs: 0 });
  ruleSet.onChange((rules) => alerts.setRules(rules));
  app = createHttpServer({
    catalog,
    storage,
    logger,
    version: "test",
    now: () => now,
    startedAt: T,
    alerts,
    rules: ruleSet,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

async function shutdown() {
  await app.close();
  alerts.stop();
  await storage.close();
  catalog.close();
}

beforeEach(async () => {
  now = T;
  dir = mkdtempSync(join(tmpdir(), "vigil-rules-routes-"));
  const c = Catalog.open(dir);
  admin = createApiToken(c, "ops", "admin", T);
  viewer = createApiToken(c, "dash", "viewer", T);
  c.close();
  await boot();
});
afterEach(async () => {
  await shutdown();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, token = admin) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

const hot = (value: number) =>
  alerts.ingest("web-1", [{ metric: "temp", labels: {}, timestamps: [now], values: [value] }], now);
const firing = () =>
  alerts
    .activeAlerts()
    .filter((a) => a.state === "firing")
    .map((a) => a.rule);

describe("/api/v1/rules", () => {
  it("creates a rule the engine evaluates at once, lists it beside the config's, and keeps it across a restart", async () => {
    const created = await call("POST", "/api/v1/rules", { ...HOT, for: "0s" });
    expect(created).toEqual({
      status: 201,
      body: {
        id: "1",
        name: "Hot",
        kind: "threshold",
        severity: "critical",
        source: "api",
        spec: { ...HOT, for: "0s" },
        created_at: T,
        updated_at: T,
        updated_by: "ops",
      },
    });
    hot(75);
    expect(firing()).toEqual(["Hot"]);

    const list = (await call("GET", "/api/v1/rules", undefined, viewer)).body?.rules as Record<
      string,
      unknown
    >[];
    expect(list.map((r) => [r.id, r.name, r.source])).toEqual([
      ["config:FromFile", "FromFile", "config"],
      ["1", "Hot", "api"],
    ]);
    expect((await call("GET", "/api/v1/rules/config:FromFile")).body).toMatchObject({
      source: "config",
      spec: { name: "FromFile", kind: "offline", timeout: "5m" },
      created_at: null,
    });

    // A restart reads the rule back from vigil.db, and the firing alert stays firing on it.
    await shutdown();
    now = T + 1_000;
    await boot();
    expect((await call("GET", "/api/v1/rules/1")).body).toMatchObject({ name: "Hot", source: "api" });
    expect(firing()).toEqual(["Hot"]);
  });

  it("replaces a rule (state of the new definition starts over) and deletes it (its alert resolves)", async () => {
    await call("POST", "/api/v1/rules", HOT);
    hot(75);
    expect(firing()).toEqual(["Hot"]);
    now += 1_000;
    const replaced = await call("PUT", "/api/v1/rules/1", { ...HOT, threshold: 90 });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: "1", spec: { ...HOT, threshold: 90 }, updated_at: T + 1_000 });
    hot(75);
    expect(firing()).toEqual([]);
    now += 1_000;
    hot(95);
    expect(firing()).toEqual(["Hot"]);
    expect(await call("DELETE", "/api/v1/rules/1")).toEqual({ status: 204, body: undefined });
    expect(firing()).toEqual([]);
    expect(await call("GET", "/api/v1/rules/1")).toEqual({
      status: 404,
      body: { error: 'no rule with id "1"', code: "not_found" },
    });
    // Ids are not reused.
    expect((await call("POST", "/api/v1/rules", HOT)).body?.id).toBe("2");
  });

  it("rejects bad rules naming rule and field, and every other refusal with {error, code}", async () => {
    expect(await call("POST", "/api/v1/rules", { ...HOT, threshold: "high" })).toEqual({
      status: 400,
      body: { error: 'rule "Hot": threshold: expected number, got "high"', code: "invalid_rule" },
    });
    expect(await call("POST", "/api/v1/rules", { ...HOT, matchers: ['disk=~"("'] })).toMatchObject({
      status: 400,
      body: { code: "invalid_rule", error: expect.stringMatching(/^rule "Hot": matchers\[0\]: /) },
    });
    expect(await call("POST", "/api/v1/rules", { ...HOT, for: "-5m" })).toMatchObject({
      status: 400,
      body: { code: "invalid_rule", error: expect.stringMatching(/^rule "Hot": for: /) },
    });
    expect(await call("POST", "/api/v1/rules", { ...HOT, kind: "sometimes" })).toMatchObject({
      status: 400,
      body: { code: "invalid_rule", error: expect.stringContaining('kind: unknown kind "sometimes"') },
    });
    expect(await call("POST", "/api/v1/rules", { ...HOT, agents: "web-[" })).toMatchObject({
      status: 400,
      body: { code: "invalid_rule", error: expect.stringMatching(/^rule "Hot": agents: /) },
    });
    expect(await call("POST", "/api/v1/rules", [1, 2])).toMatchObject({
      status: 400,
      body: { code: "bad_request" },
    });
    expect(await call("POST", "/api/v1/rules", { ...HOT, name: "FromFile" })).toEqual({
      status: 409,
      body: { error: 'a rule named "FromFile" is in the config file; pick another name', code: "conflict" },
    });
    await call("POST", "/api/v1/rules", HOT);
    expect(await call("POST", "/api/v1/rules", HOT)).toEqual({
      status: 409,
      body: { error: 'API rule 1 is already named "Hot"', code: "conflict" },
    });
    expect(await call("PUT", "/api/v1/rules/config:FromFile", HOT)).toEqual({
      status: 409,
      body: {
        error: 'rule "FromFile" comes from the config file; edit the file and send SIGHUP',
        code: "read_only",
      },
    });
    expect(await call("DELETE", "/api/v1/rules/42")).toMatchObject({
      status: 404,
      body: { code: "not_found" },
    });
    expect(await call("DELETE", "/api/v1/rules/abc")).toMatchObject({
      status: 404,
      body: { code: "not_found" },
    });
    expect(await call("POST", "/api/v1/rules", { ...HOT, name: "Other" }, viewer)).toEqual({
      status: 403,
      body: { error: "changing alert rules needs an admin token", code: "forbidden" },
    });
    expect(await call("DELETE", "/api/v1/rules/1", undefined, viewer)).toMatchObject({ status: 403 });
    // Nothing of the refused calls was stored, and the server still answers.
    expect((await call("GET", "/api/v1/rules")).body?.rules).toHaveLength(2);
  });

  it("a config reload that takes an API rule's name is refused and keeps the old rules", async () => {
    await call("POST", "/api/v1/rules", HOT);
    expect(() => ruleSet.setConfigRules([parseRule({ ...HOT, kind: "threshold" })])).toThrow(
      'rule "Hot" in the config file has the name of API rule 1; rename one of them',
    );
    expect(ruleSet.all().map((r) => r.name)).toEqual(["FromFile", "Hot"]);
    ruleSet.setConfigRules([]);
    expect(ruleSet.all().map((r) => r.name)).toEqual(["Hot"]);
  });

  it("backtests a new rule or one in force over stored samples, and refuses what it cannot replay", async () => {
    // web-1's temp every 10 s for 10 minutes before T: 40, then 75 from T-8m for 3 minutes, then 40.
    const start = T - 600_000;
    const timestamps = Array.from({ length: 60 }, (_, i) => start + i * 10_000);
    const values = timestamps.map((ts) => (ts >= T - 480_000 && ts < T - 300_000 ? 75 : 40));
    catalog.upsertAgent({ id: "web-1", hostname: "web-1", version: "1", labels: {}, seenAt: T });
    await storage.appendBatch("web-1", [{ metric: "temp", labels: { zone: "a" }, timestamps, values }]);
    const body = { rule: { ...HOT, for: "30s" }, from: String(start / 1000), to: String(T / 1000) };
    const tried = await call("POST", "/api/v1/rules/backtest", body, viewer);
    expect(tried).toEqual({
      status: 200,
      body: {
        rule: "Hot",
        kind: "threshold",
        from: start,
        to: T,
        samples: 60,
        episodes: [
          {
            fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
            agent: "web-1",
            labels: { alertname: "Hot", agent: "web-1", zone: "a" },
            active_at: T - 480_000,
            fired_at: T - 450_000,
            resolved_at: T - 300_000,
            resolve_reason: "condition",
            value: 75,
            repeats: 0,
          },
        ],
      },
    });
    // The same rule once it is in force, by name (no `for`: fires at the first hot sample).
    await call("POST", "/api/v1/rules", HOT);
    const byName = await call("POST", "/api/v1/rules/backtest", {
      name: "Hot",
      from: String(start / 1000),
      to: "now",
    });
    expect(byName.body?.episodes).toMatchObject([{ fired_at: T - 480_000, resolved_at: T - 300_000 }]);

    expect(await call("POST", "/api/v1/rules/backtest", { name: "Nope" })).toEqual({
      status: 404,
      body: { error: 'no rule named "Nope"', code: "not_found" },
    });
    expect(await call("POST", "/api/v1/rules/backtest", { name: "FromFile" })).toMatchObject({
      status: 400,
      body: { code: "bad_request", error: expect.stringContaining("offline rule") },
    });
    expect(await call("POST", "/api/v1/rules/backtest", { name: "Hot", rule: HOT })).toMatchObject({
      status: 400,
    });
    expect(await call("POST", "/api/v1/rules/backtest", { rule: { ...HOT, op: "hot" } })).toMatchObject({
      status: 400,
      body: { code: "invalid_rule" },
    });
    expect(await call("POST", "/api/v1/rules/backtest", { name: "Hot", from: "-40d" })).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining("longer than 31 days") },
    });
    expect(await call("POST", "/api/v1/rules/backtest", { name: "Hot", eval_interval: "100ms" })).toEqual({
      status: 400,
      body: { error: "eval_interval must be at least 1s", code: "bad_request" },
    });
  });
});
