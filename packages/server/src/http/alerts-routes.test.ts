import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRule } from "@vigil/alerts";
import { createLogger } from "@vigil/common";
import { Catalog, ChunkedStorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ServerAlerting, startAlerting } from "../alerting.js";
import { createApiToken } from "../auth/token-admin.js";
import { createHttpServer } from "./http-server.js";

const T = Date.UTC(2026, 10, 25, 10, 0, 0);
let dir: string;
let catalog: Catalog;
let storage: ChunkedStorageEngine;
let alerts: ServerAlerting;
let app: FastifyInstance;
let base: string;
let token: string;
let now = T;

const rule = parseRule({
  name: "Hot",
  kind: "threshold",
  metric: "temp",
  op: ">",
  threshold: 50,
  severity: "critical",
  repeat_interval: "1m",
});
const hot = (agent: string, value: number) =>
  alerts.ingest(agent, [{ metric: "temp", labels: {}, timestamps: [now], values: [value] }], now);

beforeEach(async () => {
  now = T;
  dir = mkdtempSync(join(tmpdir(), "vigil-alerts-routes-"));
  catalog = Catalog.open(dir);
  storage = ChunkedStorageEngine.open({ dataDir: dir, catalog });
  token = createApiToken(catalog, "ops-bot", "admin", T);
  const logger = createLogger({ name: "alerts-routes-test", level: "silent" });
  alerts = startAlerting({ rules: [rule], catalog, logger, now: () => now, tickMs: 0 });
  app = createHttpServer({ catalog, storage, logger, version: "test", now: () => now, startedAt: T, alerts });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterEach(async () => {
  await app.close();
  alerts.stop();
  await storage.close();
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, auth = true) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("alert history and acknowledgement routes", () => {
  it("acknowledges a firing alert as the token's name, and lists the history newest first by pages", async () => {
    hot("web-1", 80);
    now += 1_000;
    hot("web-2", 90);
    const fp = alerts.activeAlerts().find((a) => a.agent === "web-1")?.fingerprint as string;
    now += 1_000;
    const ack = await call("POST", `/api/v1/alerts/${fp}/ack`, { comment: "disk swap", expires_in: "1h" });
    expect(ack).toEqual({
      status: 200,
      body: {
        fingerprint: fp,
        rule: "Hot",
        agent: "web-1",
        ack: { by: "ops-bot", comment: "disk swap", at: now, expires_at: now + 3_600_000 },
      },
    });
    const listed = (await call("GET", "/api/v1/alerts")).body.alerts as { agent: string; ack: unknown }[];
    expect(listed.find((a) => a.agent === "web-1")?.ack).toMatchObject({ by: "ops-bot" });

    const page1 = await call("GET", "/api/v1/alerts/history?limit=2");
    expect(page1.body.error).toBeUndefined();
    const entries = page1.body.entries as Record<string, unknown>[];
    expect(entries.map((e) => [e.type, e.agent, e.at])).toEqual([
      ["acknowledged", "web-1", T + 2_000],
      ["firing", "web-2", T + 1_000],
    ]);
    expect(entries[0]).toMatchObject({
      by: "ops-bot",
      comment: "disk swap",
      severity: "critical",
      value: 80,
    });
    const cursor = page1.body.next_cursor as string;
    const page2 = await call("GET", `/api/v1/alerts/history?limit=2&cursor=${encodeURIComponent(cursor)}`);
    expect((page2.body.entries as { type: string }[]).map((e) => e.type)).toEqual(["firing"]);
    expect(page2.body.next_cursor).toBeNull();
    const web2 = await call("GET", `/api/v1/alerts/history?agent=web-2&from=${T / 1000}&to=now`);
    expect((web2.body.entries as { agent: string }[]).map((e) => e.agent)).toEqual(["web-2"]);
    expect((await call("GET", "/api/v1/alerts/history?severity=info")).body.entries).toEqual([]);

    // Withdrawn: a history entry, the alert listed without an ack, and a second withdrawal a conflict.
    now += 500;
    expect(await call("DELETE", `/api/v1/alerts/${fp}/ack`)).toEqual({
      status: 200,
      body: { fingerprint: fp, rule: "Hot", agent: "web-1", ack: null },
    });
    const after = (await call("GET", "/api/v1/alerts")).body.alerts as { agent: string; ack: unknown }[];
    expect(after.find((a) => a.agent === "web-1")?.ack).toBeNull();
    expect(await call("DELETE", `/api/v1/alerts/${fp}/ack`)).toEqual({
      status: 409,
      body: { error: `alert ${fp} is not acknowledged`, code: "not_acknowledged" },
    });
    const latest = (await call("GET", "/api/v1/alerts/history?limit=1")).body.entries as Record<
      string,
      unknown
    >[];
    expect(latest[0]).toMatchObject({ type: "unacknowledged", agent: "web-1", by: "ops-bot", at: now });
  });

  it("answers bad requests with {error, code} and the right status", async () => {
    hot("web-1", 80);
    const fp = alerts.activeAlerts()[0]?.fingerprint as string;
    expect(await call("POST", "/api/v1/alerts/0123456789abcdef/ack", {})).toEqual({
      status: 404,
      body: { error: "no active alert with fingerprint 0123456789abcdef", code: "not_found" },
    });
    expect((await call("POST", "/api/v1/alerts/nothex/ack", {})).status).toBe(400);
    expect(await call("POST", `/api/v1/alerts/${fp}/ack`, { expires_in: "soon" })).toMatchObject({
      status: 400,
      body: { code: "bad_request", error: expect.stringMatching(/^expires_in: /) },
    });
    expect(await call("POST", `/api/v1/alerts/${fp}/ack`, { by: "me" })).toEqual({
      status: 400,
      body: { error: 'body: unknown property "by"', code: "bad_request" },
    });
    expect(await call("GET", "/api/v1/alerts/history?severity=fatal")).toMatchObject({
      status: 400,
      body: { code: "bad_request" },
    });
    expect(await call("GET", "/api/v1/alerts/history?limit=5000")).toEqual({
      status: 400,
      body: { error: "limit must be an integer 1..1000, not 5000", code: "bad_request" },
    });
    expect(await call("GET", "/api/v1/alerts/history?cursor=zz")).toEqual({
      status: 400,
      body: { error: 'cursor "zz" is not one this server handed out', code: "bad_request" },
    });
    expect(await call("GET", "/api/v1/alerts/history?from=-1h&to=-2h")).toMatchObject({ status: 400 });
    expect(await call("GET", "/api/v1/alerts/history", undefined, false)).toMatchObject({
      status: 401,
      body: { code: "unauthorized" },
    });
  });
});
