import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Catalog, seriesKey } from "./catalog.js";
import { catalogPath } from "./data-dir-layout.js";
import { openReadonlyDb } from "./db.js";
import { isStorageError } from "./storage-error.js";

const T0 = 1_764_040_000_000;

let dir: string;
let open: Catalog[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-catalog-"));
  open = [];
});
afterEach(() => {
  try {
    for (const c of open) c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function openCatalog(dataDir = dir): Catalog {
  const c = Catalog.open(dataDir);
  open.push(c);
  return c;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isStorageError(err) ? err.code : `not a StorageError: ${String(err)}`;
  }
  return undefined;
}

describe("Catalog.open", () => {
  it("creates the data dir and vigil.db in it", () => {
    const dataDir = join(dir, "nested", "data");
    const c = openCatalog(dataDir);
    expect(c.path).toBe(catalogPath(dataDir));
    expect(c.listAgents()).toEqual([]);
  });
});

describe("agents", () => {
  it("creates an agent on first hello and keeps firstSeen on later ones", () => {
    const c = openCatalog();
    const first = c.upsertAgent({
      id: "web-1",
      hostname: "web-1.lan",
      version: "0.1.0",
      labels: { role: "web" },
      seenAt: T0,
    });
    expect(first).toEqual({
      id: "web-1",
      hostname: "web-1.lan",
      version: "0.1.0",
      labels: { role: "web" },
      firstSeen: T0,
      lastSeen: T0,
    });
    c.upsertAgent({
      id: "web-1",
      hostname: "web-1.example",
      version: "0.2.0",
      labels: { role: "edge", dc: "a" },
      seenAt: T0 + 60_000,
    });
    expect(c.getAgent("web-1")).toEqual({
      id: "web-1",
      hostname: "web-1.example",
      version: "0.2.0",
      labels: { dc: "a", role: "edge" },
      firstSeen: T0,
      lastSeen: T0 + 60_000,
    });
  });

  it("moves lastSeen only forward", () => {
    const c = openCatalog();
    c.upsertAgent({ id: "a", hostname: "h", version: "1", labels: {}, seenAt: T0 });
    expect(c.touchAgent("a", T0 + 5_000)).toBe(true);
    expect(c.touchAgent("a", T0 + 1_000)).toBe(true);
    expect(c.getAgent("a")?.lastSeen).toBe(T0 + 5_000);
    c.upsertAgent({ id: "a", hostname: "h", version: "1", labels: {}, seenAt: T0 + 2_000 });
    expect(c.getAgent("a")?.lastSeen).toBe(T0 + 5_000);
  });

  it("reports unknown agents", () => {
    const c = openCatalog();
    expect(c.getAgent("nope")).toBeUndefined();
    expect(c.touchAgent("nope", T0)).toBe(false);
  });

  it("lists agents by id", () => {
    const c = openCatalog();
    for (const id of ["db-1", "web-2", "app-1"])
      c.upsertAgent({ id, hostname: id, version: "1", labels: {}, seenAt: T0 });
    expect(c.listAgents().map((a) => a.id)).toEqual(["app-1", "db-1", "web-2"]);
  });
});

describe("agent keys", () => {
  it("finds the agent of a key hash until its keys are revoked", () => {
    const c = openCatalog();
    c.addAgentKey("web-1", "hash-a", T0);
    c.addAgentKey("web-1", "hash-b", T0 + 1);
    c.addAgentKey("db-1", "hash-c", T0);
    expect(c.agentForKeyHash("hash-a")).toBe("web-1");
    expect(c.agentForKeyHash("hash-c")).toBe("db-1");
    expect(c.agentForKeyHash("unknown")).toBeUndefined();

    expect(c.revokeAgentKeys("web-1", T0 + 10)).toBe(2);
    expect(c.revokeAgentKeys("web-1", T0 + 11)).toBe(0);
    expect(c.agentForKeyHash("hash-a")).toBeUndefined();
    expect(c.agentForKeyHash("hash-b")).toBeUndefined();
    expect(c.agentForKeyHash("hash-c")).toBe("db-1");
  });

  it("refuses a key hash stored twice", () => {
    const c = openCatalog();
    c.addAgentKey("web-1", "hash-a", T0);
    expect(codeOf(() => c.addAgentKey("web-2", "hash-a", T0))).toBe("invalid_argument");
  });
});

describe("API tokens", () => {
  it("creates, finds, lists, counts and revokes tokens by hash", () => {
    const c = openCatalog();
    const admin = c.createApiToken({ name: "ci", role: "admin", hash: "h1", createdAt: T0 });
    const viewer = c.createApiToken({ name: "grafana", role: "viewer", hash: "h2", createdAt: T0 + 1 });
    expect(admin).toEqual({ id: 1, name: "ci", role: "admin", createdAt: T0 });
    expect(viewer.id).toBe(2);
    expect(c.apiTokenForHash("h2")).toEqual(viewer);
    expect(c.apiTokenForHash("nope")).toBeUndefined();
    expect(c.listApiTokens()).toEqual([admin, viewer]);
    expect(c.countApiTokens()).toBe(2);

    expect(c.revokeApiToken(admin.id, T0 + 5)).toBe(true);
    expect(c.revokeApiToken(admin.id, T0 + 6)).toBe(false);
    expect(c.revokeApiToken(99, T0 + 6)).toBe(false);
    expect(c.apiTokenForHash("h1")).toBeUndefined();
    expect(c.listApiTokens()).toEqual([viewer]);
    expect(c.countApiTokens()).toBe(1);
  });

  it("never reuses the id of a revoked token", () => {
    const c = openCatalog();
    const t = c.createApiToken({ name: "a", role: "admin", hash: "h1", createdAt: T0 });
    c.revokeApiToken(t.id, T0);
    expect(c.createApiToken({ name: "b", role: "admin", hash: "h2", createdAt: T0 }).id).toBe(t.id + 1);
  });

  it("records when a token was last used", () => {
    const c = openCatalog();
    const t = c.createApiToken({ name: "a", role: "viewer", hash: "h1", createdAt: T0 });
    c.touchApiToken(t.id, T0 + 42);
    const db = openReadonlyDb(c.path);
    expect(db.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?").pluck().get(t.id)).toBe(T0 + 42);
    db.close();
  });

  it("refuses an unknown role and a duplicate hash", () => {
    const c = openCatalog();
    c.createApiToken({ name: "a", role: "admin", hash: "h1", createdAt: T0 });
    const role = "root" as "admin";
    expect(codeOf(() => c.createApiToken({ name: "b", role, hash: "h2", createdAt: T0 }))).toBe(
      "invalid_argument",
    );
    expect(codeOf(() => c.createApiToken({ name: "c", role: "viewer", hash: "h1", createdAt: T0 }))).toBe(
      "invalid_argument",
    );
    expect(c.countApiTokens()).toBe(1);
  });
});

describe("enrolment tokens", () => {
  it("is used once, by the agent that used it", () => {
    const c = openCatalog();
    c.createEnrollToken({ hash: "e1", createdAt: T0, expiresAt: T0 + 3_600_000 });
    expect(c.consumeEnrollToken("e1", "web-1", T0 + 1_000)).toEqual({ ok: true });
    expect(c.consumeEnrollToken("e1", "web-2", T0 + 2_000)).toEqual({ ok: false, reason: "used" });
    const db = openReadonlyDb(c.path);
    expect(db.prepare("SELECT used_at, used_by FROM enroll_tokens WHERE hash = 'e1'").get()).toEqual({
      used_at: T0 + 1_000,
      used_by: "web-1",
    });
    db.close();
  });

  it("refuses unknown tokens", () => {
    const c = openCatalog();
    expect(c.consumeEnrollToken("nope", "web-1", T0)).toEqual({ ok: false, reason: "unknown" });
  });

  it("expires at expiresAt, not a millisecond later", () => {
    const c = openCatalog();
    c.createEnrollToken({ hash: "late", createdAt: T0, expiresAt: T0 + 1_000 });
    c.createEnrollToken({ hash: "just", createdAt: T0, expiresAt: T0 + 1_000 });
    expect(c.consumeEnrollToken("late", "a", T0 + 1_000)).toEqual({ ok: false, reason: "expired" });
    expect(c.consumeEnrollToken("just", "a", T0 + 999)).toEqual({ ok: true });
    // A used token that has since expired still says "used".
    expect(c.consumeEnrollToken("just", "a", T0 + 5_000)).toEqual({ ok: false, reason: "used" });
  });

  it("refuses a token that expires before it is made, and a duplicate", () => {
    const c = openCatalog();
    expect(codeOf(() => c.createEnrollToken({ hash: "x", createdAt: T0, expiresAt: T0 }))).toBe(
      "invalid_argument",
    );
    c.createEnrollToken({ hash: "x", createdAt: T0, expiresAt: T0 + 1 });
    expect(codeOf(() => c.createEnrollToken({ hash: "x", createdAt: T0, expiresAt: T0 + 1 }))).toBe(
      "invalid_argument",
    );
  });

  it("is used once across two connections to the same catalog", () => {
    const a = openCatalog();
    const b = openCatalog();
    a.createEnrollToken({ hash: "e", createdAt: T0, expiresAt: T0 + 10_000 });
    expect(b.consumeEnrollToken("e", "from-b", T0 + 1)).toEqual({ ok: true });
    expect(a.consumeEnrollToken("e", "from-a", T0 + 2)).toEqual({ ok: false, reason: "used" });
  });

  it("is used once when several processes race for it", async () => {
    const c = openCatalog();
    const expiresAt = Date.now() + 3_600_000; // the child processes read the real clock
    c.createEnrollToken({ hash: "race", createdAt: 0, expiresAt });
    const fixture = fileURLToPath(new URL("../test/fixtures/consume-enroll-token.ts", import.meta.url));
    const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
    const startAt = Date.now() + 2_500; // after every child has loaded tsx and opened the catalog
    const runs = Array.from({ length: 6 }, (_, i) =>
      runChild(repoRoot, [
        process.execPath,
        "--import",
        "tsx",
        fixture,
        dir,
        "race",
        `agent-${i}`,
        String(startAt),
      ]),
    );
    const results = (await Promise.all(runs)).map((out) => JSON.parse(out) as unknown);
    expect(results.filter((r) => JSON.stringify(r) === '{"ok":true}')).toHaveLength(1);
    expect(results.filter((r) => JSON.stringify(r) === '{"ok":false,"reason":"used"}')).toHaveLength(5);
  });
});

describe("series", () => {
  it("gives one id per agent + metric + labels, whatever the label order", () => {
    const c = openCatalog();
    const a = c.seriesId("web-1", "cpu_mode_percent", { cpu: "0", mode: "user" });
    expect(c.seriesId("web-1", "cpu_mode_percent", { mode: "user", cpu: "0" })).toBe(a);
    const others = [
      c.seriesId("web-2", "cpu_mode_percent", { cpu: "0", mode: "user" }),
      c.seriesId("web-1", "cpu_usage_percent", { cpu: "0", mode: "user" }),
      c.seriesId("web-1", "cpu_mode_percent", { cpu: "0", mode: "system" }),
      c.seriesId("web-1", "cpu_mode_percent", {}),
    ];
    expect(new Set([a, ...others]).size).toBe(5);
  });

  it("resolves many series at once, mixing known and new ones", () => {
    const c = openCatalog();
    const known = c.seriesId("a", "load1", {});
    const ids = c.seriesIds("a", [
      { metric: "load5", labels: {} },
      { metric: "load1", labels: {} },
      { metric: "load15", labels: {} },
    ]);
    expect(ids[1]).toBe(known);
    expect(new Set(ids).size).toBe(3);
    expect(c.seriesId("a", "load15", {})).toBe(ids[2]);
  });

  it("builds injective fast keys: different metric or labels never share a key", () => {
    // Separators inside names and values must not make two different label sets collide.
    expect(seriesKey("m", { a: "1:b" })).not.toBe(seriesKey("m", { a: "1", b: "" }));
    expect(seriesKey("m", { "a\u00001": "x" })).not.toBe(seriesKey("m", { a: "1x" }));
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }),
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }),
        (a, b) => {
          const same = JSON.stringify(Object.entries(a)) === JSON.stringify(Object.entries(b));
          expect(seriesKey("m", a) === seriesKey("m", b)).toBe(same);
        },
      ),
    );
  });

  it("keeps the series-id cache bounded and still resolves evicted series to their ids", () => {
    const c = Catalog.open(dir, undefined, { seriesCacheSize: 10 });
    open.push(c);
    const batch = Array.from({ length: 25 }, (_, i) => ({ metric: "m", labels: { i: String(i) } }));
    const ids = c.seriesIds("a", batch);
    expect(new Set(ids).size).toBe(25);
    expect(c.cachedSeriesIds).toBeLessThanOrEqual(10);
    // Evicted or not, in either label order, every series keeps its id.
    expect(c.seriesIds("a", batch)).toEqual(ids);
    expect(c.seriesId("a", "m", { i: "3" })).toBe(ids[3]);
    expect(c.cachedSeriesIds).toBeLessThanOrEqual(10);
    expect(c.seriesId("a", "m2", { y: "1", x: "2" })).toBe(c.seriesId("a", "m2", { x: "2", y: "1" }));
    expect(codeOf(() => Catalog.open(dir, undefined, { seriesCacheSize: 1 }))).toBe("invalid_argument");
  });

  it("keeps ids across reopening and across two open catalogs", () => {
    const first = Catalog.open(dir);
    const id = first.seriesId("web-1", "memory_used_bytes", {});
    const other = first.seriesId("web-1", "load1", {});
    first.close();
    const reopened = openCatalog();
    expect(reopened.seriesId("web-1", "memory_used_bytes", {})).toBe(id);
    const second = openCatalog();
    // Created through one connection, found (not duplicated) through the other.
    const fresh = second.seriesId("web-1", "load5", {});
    expect(reopened.seriesId("web-1", "load5", {})).toBe(fresh);
    expect(fresh).toBeGreaterThan(Math.max(id, other));
  });

  it("finds series by agent, metric, both or neither", () => {
    const c = openCatalog();
    const ids = {
      a_cpu1: c.seriesId("a", "cpu_usage_percent", { cpu: "1" }),
      a_cpu0: c.seriesId("a", "cpu_usage_percent", { cpu: "0" }),
      a_load: c.seriesId("a", "load1", {}),
      b_cpu: c.seriesId("b", "cpu_usage_percent", { cpu: "total" }),
    };
    expect(c.findSeries({ agentId: "a", metric: "cpu_usage_percent" })).toEqual([
      { id: ids.a_cpu0, agentId: "a", metric: "cpu_usage_percent", labels: { cpu: "0" } },
      { id: ids.a_cpu1, agentId: "a", metric: "cpu_usage_percent", labels: { cpu: "1" } },
    ]);
    expect(c.findSeries({ agentId: "a" }).map((s) => s.id)).toEqual([ids.a_cpu0, ids.a_cpu1, ids.a_load]);
    expect(c.findSeries({ metric: "cpu_usage_percent" }).map((s) => s.id)).toEqual([
      ids.a_cpu0,
      ids.a_cpu1,
      ids.b_cpu,
    ]);
    expect(c.findSeries({})).toHaveLength(4);
    expect(c.findSeries({ agentId: "zzz" })).toEqual([]);
  });
});

describe("reopening", () => {
  it("keeps agents, keys, tokens and enrolment state", () => {
    const first = Catalog.open(dir);
    first.upsertAgent({ id: "web-1", hostname: "h", version: "1", labels: { a: "b" }, seenAt: T0 });
    first.addAgentKey("web-1", "k", T0);
    const token = first.createApiToken({ name: "t", role: "viewer", hash: "th", createdAt: T0 });
    first.createEnrollToken({ hash: "e", createdAt: T0, expiresAt: T0 + 10 });
    first.consumeEnrollToken("e", "web-1", T0 + 1);
    first.close();

    const c = openCatalog();
    expect(c.getAgent("web-1")?.labels).toEqual({ a: "b" });
    expect(c.agentForKeyHash("k")).toBe("web-1");
    expect(c.apiTokenForHash("th")).toEqual(token);
    expect(c.consumeEnrollToken("e", "web-2", T0 + 2)).toEqual({ ok: false, reason: "used" });
  });
});

function runChild(cwd: string, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });
}
