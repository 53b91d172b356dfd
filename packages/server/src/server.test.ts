import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { type ClientDuplexStream, credentials, Metadata } from "@grpc/grpc-js";
import { parseRule } from "@vigil/alerts";
import { createLogger, type SeriesSamples } from "@vigil/common";
import {
  createIngestClient,
  encodeBatch,
  HelloSchema,
  type IngestClient,
  RegisterRequestSchema,
  type StreamRequest,
  StreamRequestSchema,
  type StreamResponse,
} from "@vigil/protocol";
import { Catalog } from "@vigil/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEnrollToken } from "./auth/token-admin.js";
import type { ServerConfig } from "./config.js";
import { type RunningServer, startServer } from "./server.js";

/** The server's clock: 2026-01-15T12:00:00Z. Relative times (`-10m`, `now`) are read against it. */
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
/** Ten minutes before NOW: 2026-01-15T11:50:00Z = Unix 1768477800. */
const T0 = NOW - 600_000;
const S = 1_000;
const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const CPU0: [number, number][] = [
  [T0, 10],
  [T0 + 10 * S, 20],
  [T0 + 20 * S, 60],
  [T0 + 30 * S, 40],
  [T0 + 60 * S, 5],
];
const CPU1: [number, number][] = [
  [T0, 1],
  [T0 + 30 * S, 3],
];
const LOAD1: [number, number][] = [
  [T0, 0.5],
  [T0 + 300 * S, 1.25],
];

function series(metric: string, labels: Record<string, string>, points: [number, number][]): SeriesSamples {
  return { metric, labels, timestamps: points.map((p) => p[0]), values: points.map((p) => p[1]) };
}
const BATCH = [
  series("cpu_usage_percent", { cpu: "1" }, CPU1),
  series("load1", {}, LOAD1),
  series("cpu_usage_percent", { cpu: "0" }, CPU0),
];
const BATCH_SAMPLES = CPU0.length + CPU1.length + LOAD1.length;

let dir: string;
let clock = NOW;
let server: RunningServer;
let token: string;
let http: string;
let apiKey: string;
let ingest: IngestClient;
const logText: string[] = [];

function logger() {
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText.push(chunk.toString("utf8"));
      cb();
    },
  });
  return createLogger({ name: "vigil-server-test", level: "debug", destination });
}

function config(): ServerConfig {
  return {
    dataDir: dir,
    httpListen: { host: "127.0.0.1", port: 0 },
    grpcListen: { host: "127.0.0.1", port: 0 },
    logLevel: "debug",
    maxMessageBytes: 4 * 1024 * 1024,
    tls: undefined,
    alertRules: [],
    file: undefined,
  };
}

/** Opens an ingest stream with the agent's key and lets the test wait for response frames. */
function openStream(key: string) {
  const md = new Metadata();
  md.set("authorization", `Bearer ${key}`);
  const call: ClientDuplexStream<StreamRequest, StreamResponse> = ingest.stream(md);
  const seen: StreamResponse[] = [];
  let wake: (() => void) | undefined;
  call.on("data", (r: StreamResponse) => {
    seen.push(r);
    wake?.();
  });
  call.on("error", () => {});
  const next = async (pred: (r: StreamResponse) => boolean): Promise<StreamResponse> => {
    for (;;) {
      const found = seen.find(pred);
      if (found) return found;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  const send = (frame: StreamRequest["frame"]) => call.write(create(StreamRequestSchema, { frame }));
  /** The hello web-1's agent sends: what /api/v1/agents must show. */
  const hello = () =>
    send({
      case: "hello",
      value: create(HelloSchema, {
        agentId: "web-1",
        hostname: "web-1.example",
        version: "1.2.3",
        labels: { env: "prod", dc: "eu" },
      }),
    });
  return { call, seen, next, send, hello };
}

function register(enrollToken: string, agentId: string): Promise<string> {
  return new Promise((resolve, reject) =>
    ingest.register(
      create(RegisterRequestSchema, { token: enrollToken, agentId, hostname: "enrolled-as" }),
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, res) => (err || !res ? reject(err ?? new Error("no response")) : resolve(res.apiKey)),
    ),
  );
}

/** GET with the admin token unless told otherwise; `null` sends no authorization header. */
async function get(path: string, auth: string | null = `Bearer ${token}`) {
  const res = await fetch(`${http}${path}`, { headers: auth === null ? {} : { authorization: auth } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const bearer = (t: string) => `Bearer ${t}`;

/** GET with the admin token, expecting 200. */
async function ok(path: string) {
  const { status, body } = await get(path, bearer(token));
  expect(status, JSON.stringify(body)).toBe(200);
  return body;
}

/** GET expecting a 400 with exactly this message, then checks the server still answers. */
async function badRequest(path: string, message: string) {
  const { status, body } = await get(path, bearer(token));
  expect({ status, body }).toEqual({ status: 400, body: { error: message, code: "bad_request" } });
  await stillServing();
}

async function stillServing() {
  const { status, body } = await get("/api/v1/health", null);
  expect(status).toBe(200);
  expect(body.status).toBe("ok");
}

const iso = (ms: number) => new Date(ms).toISOString();
const metricsPath = (params: Record<string, string>) =>
  `/api/v1/metrics?${new URLSearchParams({ agent: "web-1", metric: "cpu_usage_percent", ...params })}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-server-api-"));
  server = await startServer(config(), logger(), () => clock);
  token = server.firstToken as string;
  http = `http://${server.httpAddress}`;
  ingest = createIngestClient(server.grpcAddress, credentials.createInsecure());

  // Enrol "web-1" a minute before NOW with a token made on a second catalog connection.
  const admin = Catalog.open(dir);
  clock = NOW - 60_000;
  const enroll = createEnrollToken(admin, "1h", clock);
  admin.close();
  apiKey = await register(enroll.token, "web-1");

  // Connect at NOW and stream one batch, waiting for its ack (sent after the commit).
  clock = NOW;
  const s = openStream(apiKey);
  s.hello();
  await s.next((r) => r.frame.case === "welcome");
  s.send({ case: "batch", value: encodeBatch(1, BATCH) });
  const ack = await s.next((r) => r.frame.case === "ack");
  expect(ack.frame.value).toMatchObject({ seq: 1, accepted: BATCH_SAMPLES, duplicates: 0 });
  s.call.end();
});

afterAll(async () => {
  ingest?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("startServer: first start", () => {
  it("creates an admin API token once and never logs it", () => {
    expect(token).toMatch(/^vgt_[A-Za-z0-9_-]{43}$/);
    expect(logText.join("")).not.toContain(token);
    expect(logText.join("")).not.toContain(apiKey);
  });

  it("binds both ports on 127.0.0.1 with the real port numbers", () => {
    expect(server.httpAddress).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(server.grpcAddress).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
  });
});

describe("GET /api/v1/health", () => {
  it("is open and reports version and uptime by the server's clock", async () => {
    clock = NOW + 90_400;
    try {
      expect(await get("/api/v1/health", null)).toEqual({
        status: 200,
        body: { status: "ok", version: VERSION, uptime_seconds: 90 },
      });
    } finally {
      clock = NOW;
    }
  });
});

describe("auth", () => {
  const routes = [
    "/api/v1/agents",
    "/api/v1/agents/web-1",
    "/api/v1/series",
    "/api/v1/metrics?agent=web-1&metric=load1",
    // auth comes before query validation
    "/api/v1/metrics?metirc=load1",
  ];

  it.each(routes)("%s: 401 without a token", async (path) => {
    expect(await get(path, null)).toEqual({
      status: 401,
      body: { error: "missing bearer token: send `Authorization: Bearer <token>`", code: "unauthorized" },
    });
    await stillServing();
  });

  it.each(routes)("%s: 401 with a wrong token", async (path) => {
    expect(await get(path, bearer(`${token}x`))).toEqual({
      status: 401,
      body: { error: "unknown or revoked API token", code: "unauthorized" },
    });
  });

  it.each(routes)("%s: 401 with another scheme or an agent's key", async (path) => {
    expect((await get(path, `Basic ${Buffer.from(`admin:${token}`).toString("base64")}`)).status).toBe(401);
    expect((await get(path, token)).status).toBe(401);
    // an agent's ingest key is not an API token
    expect((await get(path, bearer(apiKey))).body).toEqual({
      error: "unknown or revoked API token",
      code: "unauthorized",
    });
  });

  it("accepts the scheme in any case", async () => {
    expect((await get("/api/v1/agents", `bearer ${token}`)).status).toBe(200);
  });
});

describe("unknown routes", () => {
  it.each([
    ["/api/v1/nope", "no route GET /api/v1/nope"],
    ["/api/v1/nope?x=1", "no route GET /api/v1/nope"],
    ["/api/v2/metrics", "no route GET /api/v2/metrics"],
  ])("%s: 404 JSON, with or without a token", async (path, error) => {
    expect(await get(path, null)).toEqual({ status: 404, body: { error, code: "not_found" } });
    expect(await get(path)).toEqual({ status: 404, body: { error, code: "not_found" } });
  });

  it("refuses another method on a known path with 404 JSON", async () => {
    const res = await fetch(`${http}/api/v1/agents`, {
      method: "POST",
      headers: { authorization: bearer(token) },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no route POST /api/v1/agents", code: "not_found" });
  });
});

describe("GET /api/v1/agents", () => {
  const web1 = {
    id: "web-1",
    hostname: "web-1.example",
    version: "1.2.3",
    labels: { env: "prod", dc: "eu" },
    first_seen: NOW - 60_000,
    last_seen: NOW,
    status: "healthy",
    suppressed: null,
  };

  it("lists the agent with hostname, version and labels from its hello", async () => {
    expect(await ok("/api/v1/agents")).toEqual({ agents: [web1] });
    expect(await ok("/api/v1/agents/web-1")).toEqual(web1);
  });

  it("shows an agent silent for 2 minutes (counted after the 1-minute start grace) as down", async () => {
    try {
      // The engine started at NOW and first saw web-1 at NOW: silence counts from NOW + 60 s.
      clock = NOW + 179_999;
      expect(((await ok("/api/v1/agents")).agents as { status: string }[])[0]?.status).toBe("healthy");
      clock = NOW + 180_000;
      expect(((await ok("/api/v1/agents")).agents as { status: string }[])[0]?.status).toBe("down");
      expect((await ok("/api/v1/agents/web-1")).status).toBe("down");
    } finally {
      clock = NOW;
    }
  });

  it("answers 404 JSON for an unknown agent", async () => {
    expect(await get("/api/v1/agents/web-2")).toEqual({
      status: 404,
      body: { error: 'no agent "web-2"', code: "not_found" },
    });
  });
});

describe("GET /api/v1/series", () => {
  it("lists every series ordered by agent, metric, labels", async () => {
    const body = await ok("/api/v1/series");
    const list = body.series as {
      id: number;
      agent: string;
      metric: string;
      labels: Record<string, string>;
    }[];
    expect(list.map(({ id: _id, ...rest }) => rest)).toEqual([
      { agent: "web-1", metric: "cpu_usage_percent", labels: { cpu: "0" } },
      { agent: "web-1", metric: "cpu_usage_percent", labels: { cpu: "1" } },
      { agent: "web-1", metric: "load1", labels: {} },
    ]);
    expect(new Set(list.map((s) => s.id)).size).toBe(3);
    for (const s of list) expect(Number.isInteger(s.id)).toBe(true);
  });

  it("filters by metric and agent", async () => {
    expect(((await ok("/api/v1/series?metric=load1")).series as unknown[]).length).toBe(1);
    expect(
      ((await ok("/api/v1/series?agent=web-1&metric=cpu_usage_percent")).series as unknown[]).length,
    ).toBe(2);
    expect(await ok("/api/v1/series?agent=web-2")).toEqual({ series: [] });
  });

  it("refuses an unknown parameter and an empty one", async () => {
    await badRequest("/api/v1/series?metirc=load1", 'unknown query parameter "metirc"');
    await badRequest("/api/v1/series?agent=", "querystring/agent must NOT have fewer than 1 characters");
  });
});

describe("GET /api/v1/metrics", () => {
  const both = [
    { labels: { cpu: "0" }, points: CPU0 },
    { labels: { cpu: "1" }, points: CPU1 },
  ];

  it("returns exactly the raw points that were streamed, by RFC 3339 range", async () => {
    expect(await ok(metricsPath({ from: iso(T0), to: iso(T0 + 60 * S) }))).toEqual({
      agent: "web-1",
      metric: "cpu_usage_percent",
      from: T0,
      to: T0 + 60 * S,
      step: null,
      columns: ["ts", "value"],
      series: both,
    });
  });

  it("includes both ends of the range", async () => {
    const body = await ok(metricsPath({ from: iso(T0 + 10 * S), to: iso(T0 + 30 * S) }));
    expect(body.series).toEqual([
      { labels: { cpu: "0" }, points: CPU0.slice(1, 4) },
      { labels: { cpu: "1" }, points: [[T0 + 30 * S, 3]] },
    ]);
  });

  it("reads RFC 3339 with an offset, Unix seconds with a fraction, and relative times", async () => {
    // 2026-01-15T12:50:00+01:00 is T0; Unix 1768477800.5 is T0 + 500 ms
    expect((await ok(metricsPath({ from: "2026-01-15T12:50:00+01:00", to: "1768477860" }))).from).toBe(T0);
    const fraction = await ok(metricsPath({ from: "1768477800.5", to: "1768477860" }));
    expect(fraction).toMatchObject({ from: T0 + 500, to: T0 + 60 * S });
    expect(fraction.series).toEqual([
      { labels: { cpu: "0" }, points: CPU0.slice(1) },
      { labels: { cpu: "1" }, points: CPU1.slice(1) },
    ]);
    const relative = await ok(metricsPath({ from: "-10m", to: "-9m" }));
    expect(relative).toMatchObject({ from: T0, to: T0 + 60 * S, series: both });
  });

  it("defaults to the last hour up to now", async () => {
    const body = await ok("/api/v1/metrics?agent=web-1&metric=load1");
    expect(body).toMatchObject({ from: NOW - 3_600_000, to: NOW, series: [{ labels: {}, points: LOAD1 }] });
  });

  it("selects series with label matchers", async () => {
    expect((await ok(metricsPath({ labels: "cpu=0" }))).series).toEqual([both[0]]);
    expect((await ok(metricsPath({ labels: "cpu!=0" }))).series).toEqual([both[1]]);
    expect((await ok(metricsPath({ labels: "cpu=0,cpu!=0" }))).series).toEqual([]);
    expect((await ok(metricsPath({ labels: "cpu=7" }))).series).toEqual([]);
    expect((await ok(metricsPath({ labels: "mode=" }))).series).toEqual(both);
  });

  it("returns empty series for an unknown agent or metric, and for a range with no samples", async () => {
    expect((await ok(metricsPath({ agent: "web-2" }))).series).toEqual([]);
    expect((await ok(metricsPath({ metric: "nope" }))).series).toEqual([]);
    expect((await ok(metricsPath({ from: iso(T0 + 61 * S), to: iso(T0 + 299 * S) }))).series).toEqual([]);
  });

  it("aggregates into step buckets aligned to from: [start, avg, min, max, count]", async () => {
    const body = await ok(metricsPath({ from: iso(T0), to: iso(T0 + 60 * S), step: "30s" }));
    expect(body).toEqual({
      agent: "web-1",
      metric: "cpu_usage_percent",
      from: T0,
      to: T0 + 60 * S,
      step: 30_000,
      columns: ["ts", "avg", "min", "max", "count"],
      series: [
        {
          labels: { cpu: "0" },
          // 10, 20, 60 | 40 | 5
          points: [
            [T0, 30, 10, 60, 3],
            [T0 + 30 * S, 40, 40, 40, 1],
            [T0 + 60 * S, 5, 5, 5, 1],
          ],
        },
        {
          labels: { cpu: "1" },
          points: [
            [T0, 1, 1, 1, 1],
            [T0 + 30 * S, 3, 3, 3, 1],
          ],
        },
      ],
    });
  });

  it("aligns buckets to from, not to the epoch", async () => {
    // buckets start at T0+5s: [T0+5s, T0+25s) holds 20 and 60; [T0+25s, T0+45s) holds 40
    const body = await ok(
      metricsPath({ from: iso(T0 + 5 * S), to: iso(T0 + 44 * S), step: "20s", labels: "cpu=0" }),
    );
    expect(body.series).toEqual([
      {
        labels: { cpu: "0" },
        points: [
          [T0 + 5 * S, 40, 20, 60, 2],
          [T0 + 25 * S, 40, 40, 40, 1],
        ],
      },
    ]);
  });

  it("puts the whole range in one bucket when the step is longer than it", async () => {
    const body = await ok("/api/v1/metrics?agent=web-1&metric=load1&from=-1h&step=1h");
    expect(body.series).toEqual([{ labels: {}, points: [[NOW - 3_600_000, 0.875, 0.5, 1.25, 2]] }]);
  });

  it("accepts exactly 11,000 buckets", async () => {
    // 10,999 steps of 1 s between from and to: buckets 0..10,999
    const body = await ok(
      metricsPath({ from: iso(T0), to: iso(T0 + 10_999 * S), step: "1s", labels: "cpu=1" }),
    );
    expect(body.series).toEqual([
      {
        labels: { cpu: "1" },
        points: [
          [T0, 1, 1, 1, 1],
          [T0 + 30 * S, 3, 3, 3, 1],
        ],
      },
    ]);
  });

  it("does not store a batch twice when it is resent", async () => {
    const s = openStream(apiKey);
    s.hello();
    await s.next((r) => r.frame.case === "welcome");
    s.send({ case: "batch", value: encodeBatch(2, BATCH) });
    const ack = await s.next((r) => r.frame.case === "ack");
    s.call.end();
    expect(ack.frame.value).toMatchObject({ seq: 2, accepted: 0, duplicates: BATCH_SAMPLES });
    expect((await ok(metricsPath({ from: iso(T0), to: iso(T0 + 60 * S) }))).series).toEqual(both);
  });

  describe("bad requests: 400 with a precise message, and the server keeps serving", () => {
    it("from after to", async () => {
      await badRequest(
        metricsPath({ from: iso(T0 + 1), to: iso(T0) }),
        `from (${T0 + 1}) is after to (${T0})`,
      );
    });

    it.each([
      [
        "from",
        "yesterday",
        'from: "yesterday" is not a time (expected "now", "-1h", Unix seconds or RFC 3339)',
      ],
      [
        "to",
        "2026-02-30T00:00:00Z",
        'to: "2026-02-30T00:00:00Z" is not a time (expected "now", "-1h", Unix seconds or RFC 3339)',
      ],
      ["from", "-1 hour", 'from: "-1 hour" is not a time: a relative time is "-" and a duration, e.g. "-1h"'],
      ["step", "abc", 'step: "abc" is not a duration (expected e.g. "500ms", "10s", "5m", "1h30m", "7d")'],
      ["step", "-1s", 'step: "-1s" is not a duration (expected e.g. "500ms", "10s", "5m", "1h30m", "7d")'],
      ["step", "999ms", "step must be at least 1s"],
      ["step", "0s", "step must be at least 1s"],
      ["labels", "cpu", 'labels: label matcher "cpu" has no "=" or "!="'],
      ["labels", "cpu=0,0x=1", 'labels: label matcher "0x=1" has an invalid label name "0x"'],
    ])("%s=%s", async (name, value, message) => {
      await badRequest(metricsPath({ [name]: value }), message);
    });

    it("too many buckets", async () => {
      await badRequest(
        metricsPath({ from: "-1d", step: "1s" }),
        "step 1s gives more than 11000 buckets over this range; use a larger step",
      );
      // one more bucket than the limit: 11,000 steps between from and to make 11,001 buckets
      await badRequest(
        metricsPath({ from: iso(T0), to: iso(T0 + 11_000 * S), step: "1s" }),
        "step 1s gives more than 11000 buckets over this range; use a larger step",
      );
    });

    it("a time too far out to count in milliseconds", async () => {
      const huge = "9".repeat(20);
      await badRequest(
        metricsPath({ to: huge }),
        `to: "${huge}" is not a time (expected "now", "-1h", Unix seconds or RFC 3339)`,
      );
    });

    it("an unknown query parameter", async () => {
      await badRequest(
        "/api/v1/metrics?agent=web-1&metirc=cpu_usage_percent&metric=load1",
        'unknown query parameter "metirc"',
      );
    });

    it("a missing agent or metric", async () => {
      await badRequest("/api/v1/metrics?metric=load1", "querystring must have required property 'agent'");
      await badRequest("/api/v1/metrics?agent=web-1", "querystring must have required property 'metric'");
      await badRequest(
        "/api/v1/metrics?agent=web-1&metric=",
        "querystring/metric must NOT have fewer than 1 characters",
      );
    });

    it("a raw query over the per-series point limit", async () => {
      // 100,001 samples one millisecond apart, all within the default last hour
      const first = NOW - 200_000;
      const timestamps = Array.from({ length: 100_001 }, (_, i) => first + i);
      const s = openStream(apiKey);
      s.hello();
      await s.next((r) => r.frame.case === "welcome");
      s.send({
        case: "batch",
        value: encodeBatch(3, [
          { metric: "bulk_metric", labels: {}, timestamps, values: timestamps.map(() => 1) },
        ]),
      });
      const ack = await s.next((r) => r.frame.case === "ack");
      s.call.end();
      expect(ack.frame.value).toMatchObject({ seq: 3, accepted: 100_001 });

      const { status, body } = await get("/api/v1/metrics?agent=web-1&metric=bulk_metric");
      expect(status).toBe(400);
      expect(body.code).toBe("bad_request");
      expect(body.error).toContain("more than 100000 points");
      expect(body.error).toContain("pass a step");
      await stillServing();
      // with a step it is answered: the samples span 100 s and 1 ms, so 100 full 1 s buckets and one more
      const stepped = await ok("/api/v1/metrics?agent=web-1&metric=bulk_metric&from=-200s&step=1s");
      const points = (stepped.series as { points: number[][] }[])[0]?.points ?? [];
      expect(points).toHaveLength(101);
      expect(points[0]).toEqual([first, 1, 1, 1, 1_000]);
      expect(points[99]).toEqual([first + 99_000, 1, 1, 1, 1_000]);
      expect(points[100]).toEqual([first + 100_000, 1, 1, 1, 1]);
    });

    it("a parameter given twice", async () => {
      await badRequest(
        "/api/v1/metrics?agent=web-1&metric=load1&metric=load5",
        "querystring/metric must be string",
      );
    });
  });
});

describe("alerting", () => {
  async function sendBatch(seq: number, value: number) {
    const s = openStream(apiKey);
    s.hello();
    await s.next((r) => r.frame.case === "welcome");
    s.send({
      case: "batch",
      value: encodeBatch(seq, [series("alert_probe", { disk: "sda" }, [[clock, value]])]),
    });
    await s.next((r) => r.frame.case === "ack");
    s.call.end();
  }

  it("feeds stored batches to the engine: GET /api/v1/alerts, host health and the log", async () => {
    server.setAlertRules([
      parseRule({
        name: "ProbeHigh",
        kind: "threshold",
        metric: "alert_probe",
        op: ">",
        threshold: 50,
        severity: "critical",
        annotations: { summary: "{{ $agent }} at {{ $value }}" },
      }),
    ]);
    expect(await ok("/api/v1/alerts")).toEqual({ alerts: [] });
    await sendBatch(10, 75);
    const { alerts } = (await ok("/api/v1/alerts")) as { alerts: Record<string, unknown>[] };
    expect(alerts).toEqual([
      {
        fingerprint: expect.stringMatching(/^[0-9a-f]+$/),
        rule: "ProbeHigh",
        kind: "threshold",
        severity: "critical",
        state: "firing",
        agent: "web-1",
        metric: "alert_probe",
        labels: { alertname: "ProbeHigh", agent: "web-1", disk: "sda" },
        annotations: { summary: "web-1 at 75" },
        ack: null,
        value: 75,
        active_at: NOW,
        fired_at: NOW,
      },
    ]);
    expect((await ok("/api/v1/agents/web-1")).status).toBe("warning");
    const firing = logText
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "alert firing");
    expect(firing).toMatchObject({
      level: 40,
      rule: "ProbeHigh",
      severity: "critical",
      agent: "web-1",
      value: 75,
    });

    clock = NOW + 1_000;
    try {
      await sendBatch(11, 10);
      expect(await ok("/api/v1/alerts")).toEqual({ alerts: [] });
      expect((await ok("/api/v1/agents/web-1")).status).toBe("healthy");
      expect(logText.join("")).toContain('"msg":"alert resolved"');
    } finally {
      clock = NOW;
      server.setAlertRules([]);
    }
  });
});

describe("restart on the same data directory", () => {
  it("keeps the data and the token, and creates no second first-start token", async () => {
    await server.stop();
    ingest.close();
    server = await startServer(config(), logger(), () => clock);
    http = `http://${server.httpAddress}`;
    ingest = createIngestClient(server.grpcAddress, credentials.createInsecure());
    expect(server.firstToken).toBe(undefined);
    expect((await ok(metricsPath({ from: iso(T0), to: iso(T0 + 60 * S) }))).series).toEqual([
      { labels: { cpu: "0" }, points: CPU0 },
      { labels: { cpu: "1" }, points: CPU1 },
    ]);
  });
});
