import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "@vigil/common";
import { Catalog, ChunkedStorageEngine, DAY_MS, dayFileName, samplesDir } from "@vigil/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerConfig } from "./config.js";
import { type RunningServer, startServer } from "./server.js";

/** Real time (retention reads the wall clock), on the minute. */
const NOW = Math.floor(Date.now() / 60_000) * 60_000;
const T0 = NOW - 600_000;
const S = 1_000;
/** Noon UTC 20 days ago: past the default 15-day retention, so its day file goes at start. */
const OLD_NOON = (Math.floor(NOW / DAY_MS) - 20) * DAY_MS + DAY_MS / 2;
/** A day file that is not a database: quarantined at start. */
const BAD_DAY = NOW - 3 * DAY_MS;

let dir: string;
let server: RunningServer;
let token: string;
let http: string;
const logText: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-storage-routes-"));
  // Data written the way the server writes it, before the server starts.
  const catalog = Catalog.open(dir);
  catalog.upsertAgent({ id: "web-1", hostname: "web-1.example", version: "1.0.0", labels: {}, seenAt: NOW });
  catalog.upsertAgent({ id: "idle", hostname: "idle.example", version: "1.0.0", labels: {}, seenAt: NOW });
  const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
  await engine.appendBatch("web-1", [
    {
      metric: "cpu_usage_percent",
      labels: { cpu: "0" },
      timestamps: [0, 10, 20, 30, 60].map((s) => T0 + s * S),
      values: [10, 20, 60, 40, 5],
    },
    { metric: "load1", labels: {}, timestamps: [T0, T0 + 300 * S], values: [0.5, 1.25] },
    {
      metric: "cpu_usage_percent",
      labels: { cpu: "0" },
      timestamps: [0, 10, 20, 70].map((m) => OLD_NOON + m * 60 * S),
      values: [1, 2, 3, 4],
    },
  ]);
  await engine.close();
  catalog.close();
  mkdirSync(samplesDir(dir), { recursive: true });
  writeFileSync(join(samplesDir(dir), dayFileName(BAD_DAY)), "this is not a SQLite file ".repeat(200));

  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText.push(chunk.toString("utf8"));
      cb();
    },
  });
  const config: ServerConfig = {
    dataDir: dir,
    httpListen: { host: "127.0.0.1", port: 0 },
    grpcListen: { host: "127.0.0.1", port: 0 },
    logLevel: "debug",
    maxMessageBytes: 4 * 1024 * 1024,
    tls: undefined,
    alertRules: [],
    agentSettings: new Map(),
    file: undefined,
  };
  server = await startServer(config, createLogger({ name: "t", level: "debug", destination }), () => NOW);
  token = server.firstToken as string;
  http = `http://${server.httpAddress}`;
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string, auth: string | null = `Bearer ${token}`) {
  const res = await fetch(`${http}${path}`, { headers: auth === null ? {} : { authorization: auth } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe("GET /api/v1/stats", () => {
  it("answers min, max, avg, p95 and count per series", async () => {
    const { status, body } = await get(
      `/api/v1/stats?${q({ agent: "web-1", metric: "cpu_usage_percent", from: "-15m" })}`,
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      agent: "web-1",
      metric: "cpu_usage_percent",
      from: NOW - 900_000,
      to: NOW,
      series: [{ labels: { cpu: "0" }, min: 5, max: 60, avg: 27, p95: 60, count: 5 }],
    });
    const one = await get(
      `/api/v1/stats?${q({ agent: "web-1", metric: "cpu_usage_percent", from: String((T0 + 10 * S) / 1000), to: String((T0 + 30 * S) / 1000), labels: "cpu=0" })}`,
    );
    expect(one.body.series).toEqual([{ labels: { cpu: "0" }, min: 20, max: 60, avg: 40, p95: 60, count: 3 }]);
    expect((await get(`/api/v1/stats?${q({ agent: "web-1", metric: "nope" })}`)).body.series).toEqual([]);
  });

  it("refuses bad requests with {error, code}", async () => {
    expect((await get(`/api/v1/stats?${q({ agent: "web-1", metric: "m" })}`, null)).status).toBe(401);
    expect(await get(`/api/v1/stats?${q({ agent: "web-1" })}`)).toEqual({
      status: 400,
      body: { error: "querystring must have required property 'metric'", code: "bad_request" },
    });
    expect(await get(`/api/v1/stats?${q({ agent: "web-1", metric: "m", step: "1m" })}`)).toEqual({
      status: 400,
      body: { error: 'unknown query parameter "step"', code: "bad_request" },
    });
    const badFrom = await get(`/api/v1/stats?${q({ agent: "web-1", metric: "m", from: "yesterday" })}`);
    expect(badFrom.status).toBe(400);
    expect(badFrom.body.code).toBe("bad_request");
    expect(String(badFrom.body.error)).toMatch(/^from: /);
    expect(await get(`/api/v1/stats?${q({ agent: "web-1", metric: "m", from: "now", to: "-1h" })}`)).toEqual({
      status: 400,
      body: { error: `from (${NOW}) is after to (${NOW - 3_600_000})`, code: "bad_request" },
    });
    const badLabels = await get(`/api/v1/stats?${q({ agent: "web-1", metric: "m", labels: "=x" })}`);
    expect(badLabels.status).toBe(400);
    expect(String(badLabels.body.error)).toMatch(/^labels: /);
  });
});

describe("GET /api/v1/agents/:id/latest", () => {
  it("answers the newest sample of every series of the agent", async () => {
    expect(await get("/api/v1/agents/web-1/latest")).toEqual({
      status: 200,
      body: {
        agent: "web-1",
        samples: [
          { metric: "cpu_usage_percent", labels: { cpu: "0" }, ts: T0 + 60 * S, value: 5 },
          { metric: "load1", labels: {}, ts: T0 + 300 * S, value: 1.25 },
        ],
      },
    });
    expect((await get("/api/v1/agents/web-1/latest?metric=load1")).body.samples).toEqual([
      { metric: "load1", labels: {}, ts: T0 + 300 * S, value: 1.25 },
    ]);
    expect(await get("/api/v1/agents/idle/latest")).toEqual({
      status: 200,
      body: { agent: "idle", samples: [] },
    });
  });

  it("404s an unknown agent and refuses unknown parameters and missing tokens", async () => {
    expect(await get("/api/v1/agents/nobody/latest")).toEqual({
      status: 404,
      body: { error: 'no agent "nobody"', code: "not_found" },
    });
    expect(await get("/api/v1/agents/web-1/latest?metrc=load1")).toEqual({
      status: 400,
      body: { error: 'unknown query parameter "metrc"', code: "bad_request" },
    });
    expect((await get("/api/v1/agents/web-1/latest", null)).status).toBe(401);
  });
});

describe("storage at server start", () => {
  it("quarantines a day file that is not a database and serves the rest", async () => {
    const names = readdirSync(samplesDir(dir));
    expect(names).not.toContain(dayFileName(BAD_DAY));
    expect(names.filter((n) => n.startsWith(`${dayFileName(BAD_DAY)}.quarantined-`))).toHaveLength(1);
    expect(logText.join("")).toContain('"event":"storage_day_file_quarantined"');
    // ...and raises a critical alert event: logged as `alert firing` and kept in the alert history.
    const moved = names.find((n) => n.startsWith(`${dayFileName(BAD_DAY)}.quarantined-`)) as string;
    const { status, body } = await get("/api/v1/alerts/history?agent=vigil-server");
    expect(status).toBe(200);
    expect(body.entries).toEqual([
      expect.objectContaining({
        type: "firing",
        rule: "StorageDayFileQuarantined",
        kind: "system",
        severity: "critical",
        agent: "vigil-server",
        labels: { alertname: "StorageDayFileQuarantined", agent: "vigil-server", file: dayFileName(BAD_DAY) },
        annotations: expect.objectContaining({
          summary: `${dayFileName(BAD_DAY)} failed its integrity check and was moved to ${moved}; the other days are served`,
        }),
        at: NOW,
      }),
    ]);
    const firing = logText
      .join("")
      .split("\n")
      .filter((l) => l.includes('"msg":"alert firing"') && l.includes("StorageDayFileQuarantined"));
    expect(firing).toHaveLength(1);
    // Not an active alert: nothing could ever resolve it.
    expect((await get("/api/v1/alerts")).body).toEqual({ alerts: [] });
  });

  it("deletes day files past retention after rolling them up; step queries still answer from rollups", async () => {
    expect(existsSync(join(samplesDir(dir), dayFileName(OLD_NOON)))).toBe(false);
    expect(existsSync(join(dir, "rollups.db"))).toBe(true);
    const from = OLD_NOON - DAY_MS / 2;
    const { status, body } = await get(
      `/api/v1/metrics?${q({ agent: "web-1", metric: "cpu_usage_percent", from: String(from / 1000), to: String((from + DAY_MS) / 1000), step: "1h" })}`,
    );
    expect(status).toBe(200);
    expect(body.series).toEqual([
      {
        labels: { cpu: "0" },
        points: [
          [OLD_NOON, 2, 1, 3, 3],
          [OLD_NOON + 3_600_000, 4, 4, 4, 1],
        ],
      },
    ]);
    expect(logText.join("")).toContain('"msg":"retention ran"');
  });
});
