import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@vigil/common";
import { Catalog, ChunkedStorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashSecret } from "../auth/secrets.js";
import { createApiToken } from "../auth/token-admin.js";
import { type AgentUpdateDeps, DEFAULT_AGENT_BUNDLE_PATH } from "./agent-update-route.js";
import { createHttpServer, type HttpDeps } from "./http-server.js";

const T = Date.UTC(2026, 10, 25, 10, 0, 0);
const AGENT_KEY = "vga_update_route_test";
const BUNDLE_SCRIPT = join(import.meta.dirname, "../../../agent/scripts/bundle.mjs");
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let dir: string;
let catalog: Catalog;
let storage: ChunkedStorageEngine;
let app: FastifyInstance | undefined;
let apiToken: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-agent-update-route-"));
  catalog = Catalog.open(join(dir, "data"));
  storage = ChunkedStorageEngine.open({ dataDir: join(dir, "data"), catalog });
  catalog.addAgentKey("web-1", hashSecret(AGENT_KEY), T);
  apiToken = createApiToken(catalog, "ops", "admin", T);
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await storage.close();
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The real HTTP app (createHttpServer) on 127.0.0.1, offering `agentBundlePath`. */
async function listen(agentBundlePath: string): Promise<string> {
  const logger = createLogger({ name: "agent-update-route-test", level: "silent" });
  const deps: HttpDeps & AgentUpdateDeps = {
    catalog,
    storage,
    logger,
    version: "test",
    now: () => T,
    startedAt: T,
    agentBundlePath,
  };
  app = createHttpServer(deps);
  await app.listen({ host: "127.0.0.1", port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

const get = (url: string, bearer?: string) =>
  fetch(url, { headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } });

describe("GET /api/v1/agent/update and /api/v1/agent/bundle", () => {
  const BUNDLE = Buffer.from("#!/usr/bin/env node\n// vigil-agent 9.9.9\nconsole.log('hi');\n");

  it("serves the manifest and the bytes to an agent key", async () => {
    const file = join(dir, "vigil-agent.js");
    writeFileSync(file, BUNDLE);
    const base = await listen(file);

    const manifest = await get(`${base}/api/v1/agent/update`, AGENT_KEY);
    expect(manifest.status).toBe(200);
    expect(await manifest.json()).toEqual({
      version: "9.9.9",
      sha256: sha256(BUNDLE),
      url: "/api/v1/agent/bundle",
      size: BUNDLE.length,
    });

    const bundle = await get(`${base}/api/v1/agent/bundle`, AGENT_KEY);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("x-vigil-sha256")).toBe(sha256(BUNDLE));
    expect(Buffer.from(await bundle.arrayBuffer())).toEqual(BUNDLE);
  });

  it("sees a new bundle file without a restart", async () => {
    const file = join(dir, "vigil-agent.js");
    writeFileSync(file, BUNDLE);
    const base = await listen(file);
    expect(
      ((await (await get(`${base}/api/v1/agent/update`, AGENT_KEY)).json()) as { sha256: string }).sha256,
    ).toBe(sha256(BUNDLE));
    const next = Buffer.from("#!/usr/bin/env node\n// vigil-agent 9.9.10\nconsole.log('next');\n");
    writeFileSync(`${file}.new`, next);
    copyFileSync(`${file}.new`, file);
    expect(await (await get(`${base}/api/v1/agent/update`, AGENT_KEY)).json()).toMatchObject({
      version: "9.9.10",
      sha256: sha256(next),
    });
  });

  it.each([
    ["no bearer", undefined, "missing agent API key: send `Authorization: Bearer <agent key>`"],
    ["an unknown key", "vga_nope", "unknown or revoked agent API key"],
    ["an API token (not an agent key)", "API_TOKEN", "unknown or revoked agent API key"],
  ])("refuses %s with 401", async (_what, bearer, error) => {
    const file = join(dir, "vigil-agent.js");
    writeFileSync(file, BUNDLE);
    const base = await listen(file);
    for (const route of ["update", "bundle"]) {
      const res = await get(`${base}/api/v1/agent/${route}`, bearer === "API_TOKEN" ? apiToken : bearer);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error, code: "unauthorized" });
    }
  });

  it("refuses a revoked agent key", async () => {
    const file = join(dir, "vigil-agent.js");
    writeFileSync(file, BUNDLE);
    const base = await listen(file);
    catalog.revokeAgentKeys("web-1", T + 1);
    expect((await get(`${base}/api/v1/agent/update`, AGENT_KEY)).status).toBe(401);
  });

  it("answers 404 agent_bundle_missing when there is no bundle", async () => {
    const missing = join(dir, "nope", "vigil-agent.js");
    const base = await listen(missing);
    for (const route of ["update", "bundle"]) {
      const res = await get(`${base}/api/v1/agent/${route}`, AGENT_KEY);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: `no agent bundle to offer: ${missing} cannot be read (ENOENT); run \`npm run build\` on the server`,
        code: "agent_bundle_missing",
      });
    }
  });

  it("leaves every other route to API tokens", async () => {
    const file = join(dir, "vigil-agent.js");
    writeFileSync(file, BUNDLE);
    const base = await listen(file);
    expect((await get(`${base}/api/v1/agents`, AGENT_KEY)).status).toBe(401);
    expect((await get(`${base}/api/v1/agents`, apiToken)).status).toBe(200);
    expect((await get(`${base}/api/v1/health`)).status).toBe(200);
  });

  it("defaults to the bundle `npm run build` writes in this checkout", () => {
    expect(DEFAULT_AGENT_BUNDLE_PATH).toBe(join(import.meta.dirname, "../../../agent/dist/vigil-agent.js"));
  });
});

describe("a real agent updating itself from this server", () => {
  it("replaces its bundle with the served one and exits 75 for its service manager", async () => {
    // The real bundle, built into the temp dir; the server offers the same build plus a comment.
    const built = join(dir, "build", "vigil-agent.js");
    const r = spawnSync(process.execPath, [BUNDLE_SCRIPT, built], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const offered = join(dir, "offered.js");
    const offeredBytes = Buffer.concat([readFileSync(built), Buffer.from("\n// the next build\n")]);
    writeFileSync(offered, offeredBytes);
    const base = await listen(offered);

    const installed = join(dir, "opt", "vigil-agent.js");
    const optDir = join(dir, "opt");
    mkdirSync(optDir);
    copyFileSync(built, installed);
    const inodeBefore = statSync(installed).ino;
    const config = join(dir, "agent.toml");
    writeFileSync(
      config,
      [
        'agent_id = "web-1"',
        'server = "127.0.0.1:1"',
        `api_key = "${AGENT_KEY}"`,
        "[stream]",
        'shutdown_timeout = "0s"',
        "[update]",
        "enabled = true",
        'interval = "1s"',
        `url = "${base}"`,
        "",
      ].join("\n"),
    );
    const agent = spawn(process.execPath, [installed, "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    agent.stdout.on("data", (d: Buffer) => {
      output += d.toString("utf8");
    });
    agent.stderr.on("data", (d: Buffer) => {
      output += d.toString("utf8");
    });
    const killer = setTimeout(() => agent.kill("SIGKILL"), 25_000);
    const code = await new Promise<number | null>((resolve) => agent.once("close", resolve));
    clearTimeout(killer);

    expect(code, output).toBe(75);
    expect(sha256(readFileSync(installed))).toBe(sha256(offeredBytes));
    expect(statSync(installed).ino).not.toBe(inodeBefore);
    expect(readdirSync(optDir)).toEqual(["vigil-agent.js"]);
    expect(output).toContain('"msg":"agent bundle updated"');
  }, 40_000);
});
