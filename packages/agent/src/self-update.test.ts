import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkForUpdate, type UpdateOutcome } from "./self-update.js";
import { EXIT_UPDATED } from "./self-update-loop.js";
import { captureLogger, LEVEL } from "./test-support.js";

const AGENT_DIR = join(import.meta.dirname, "..");
const API_KEY = "vga_self_update_test";
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A real HTTP server on 127.0.0.1 playing the vigil-server's two update routes. */
interface FakeUpdateServer {
  readonly url: string;
  /** Every request, as `METHOD path auth-ok`. */
  readonly requests: string[];
  close(): Promise<void>;
}

function startUpdateServer(bundle: Buffer, manifestSha256 = sha256(bundle)): Promise<FakeUpdateServer> {
  const requests: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const authorized = req.headers.authorization === `Bearer ${API_KEY}`;
    requests.push(`${req.method} ${req.url} ${authorized ? "auth-ok" : "no-auth"}`);
    if (!authorized) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "unknown or revoked agent API key", code: "unauthorized" }));
    } else if (req.url === "/api/v1/agent/update") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ version: "9.9.9", sha256: manifestSha256, url: "/api/v1/agent/bundle" }));
    } else if (req.url === "/api/v1/agent/bundle") {
      res.writeHead(200, { "content-type": "application/javascript" });
      res.end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-self-update-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("checkForUpdate", () => {
  const OLD = Buffer.from("#!/usr/bin/env node\n// vigil-agent 0.1.0\nconsole.log('old');\n");
  const NEW = Buffer.from("#!/usr/bin/env node\n// vigil-agent 9.9.9\nconsole.log('new');\n");
  let server: FakeUpdateServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function check(
    bundlePath: string,
  ): Promise<{ outcome: UpdateOutcome; lines: ReturnType<typeof captureLogger>["lines"] }> {
    const { logger, lines } = captureLogger();
    if (!server) throw new Error("no server");
    const outcome = await checkForUpdate({
      bundlePath,
      baseUrl: new URL(`${server.url}/`),
      apiKey: API_KEY,
      currentVersion: "0.1.0",
      pid: 4242,
      logger,
    });
    return { outcome, lines };
  }

  it("replaces the bundle with a verified download by renaming a new file over it", async () => {
    server = await startUpdateServer(NEW);
    const bundle = join(dir, "vigil-agent.js");
    writeFileSync(bundle, OLD);
    chmodSync(bundle, 0o750);
    const inodeBefore = statSync(bundle).ino;

    const { outcome, lines } = await check(bundle);

    expect(outcome).toEqual({ kind: "updated", version: "9.9.9", sha256: sha256(NEW) });
    expect(readFileSync(bundle)).toEqual(NEW);
    // A new inode: the old file was replaced by a rename, never rewritten in place.
    expect(statSync(bundle).ino).not.toBe(inodeBefore);
    expect(statSync(bundle).mode & 0o777).toBe(0o750);
    expect(readdirSync(dir)).toEqual(["vigil-agent.js"]);
    expect(server.requests).toEqual(["GET /api/v1/agent/update auth-ok", "GET /api/v1/agent/bundle auth-ok"]);
    expect(lines.find((l) => l.msg === "agent bundle updated")).toMatchObject({
      level: LEVEL.info,
      from: "0.1.0",
      to: "9.9.9",
      sha256: sha256(NEW),
    });
  });

  it("refuses a download whose sha256 is not the manifest's, and leaves the bundle untouched", async () => {
    const claimed = sha256(Buffer.from("something else"));
    server = await startUpdateServer(NEW, claimed);
    const bundle = join(dir, "vigil-agent.js");
    writeFileSync(bundle, OLD);
    const before = statSync(bundle);

    const { outcome, lines } = await check(bundle);

    expect(outcome).toEqual({
      kind: "refused",
      reason: `the downloaded bundle's sha256 ${sha256(NEW)} does not match the manifest's ${claimed}`,
    });
    expect(readFileSync(bundle)).toEqual(OLD);
    expect(statSync(bundle).ino).toBe(before.ino);
    expect(statSync(bundle).mtimeMs).toBe(before.mtimeMs);
    expect(readdirSync(dir)).toEqual(["vigil-agent.js"]);
    const refusal = lines.find((l) => l.msg.startsWith("agent update refused"));
    expect(refusal).toMatchObject({ level: LEVEL.error, expected: claimed, actual: sha256(NEW), bundle });
  });

  it("does not download when the running bundle already has the offered sha256", async () => {
    server = await startUpdateServer(OLD);
    const bundle = join(dir, "vigil-agent.js");
    writeFileSync(bundle, OLD);
    const { outcome } = await check(bundle);
    expect(outcome).toEqual({ kind: "current", sha256: sha256(OLD) });
    expect(server.requests).toEqual(["GET /api/v1/agent/update auth-ok"]);
  });

  it("reports the server's error and changes nothing when the key is refused", async () => {
    server = await startUpdateServer(NEW);
    const bundle = join(dir, "vigil-agent.js");
    writeFileSync(bundle, OLD);
    const { logger, lines } = captureLogger();
    const outcome = await checkForUpdate({
      bundlePath: bundle,
      baseUrl: new URL(`${server.url}/`),
      apiKey: "vga_wrong",
      currentVersion: "0.1.0",
      pid: 1,
      logger,
    });
    expect(outcome).toEqual({
      kind: "failed",
      reason: `GET ${server.url}/api/v1/agent/update: HTTP 401 unknown or revoked agent API key (unauthorized)`,
    });
    expect(lines.some((l) => l.level === LEVEL.warn && l.msg.startsWith("agent update check failed"))).toBe(
      true,
    );
    expect(readFileSync(bundle)).toEqual(OLD);
  });
});

describe("vigil-agent with [update], as a real process", () => {
  /** The real single-file bundle, built once by scripts/bundle.mjs. */
  let built: Buffer;
  const buildDir = mkdtempSync(join(tmpdir(), "vigil-self-update-bundle-"));
  const children: ChildProcess[] = [];
  let server: FakeUpdateServer | undefined;

  beforeAll(() => {
    const out = join(buildDir, "vigil-agent.js");
    const r = spawnSync(process.execPath, [join(AGENT_DIR, "scripts/bundle.mjs"), out], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    built = readFileSync(out);
  }, 60_000);
  afterAll(() => rmSync(buildDir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await server?.close();
    server = undefined;
  });

  /**
   * Writes an agent config (inline key, a gRPC port nobody listens on, so no ack ever comes: no
   * shutdown wait for one) with `extra` appended.
   */
  function config(extra: string): string {
    const file = join(dir, "agent.toml");
    writeFileSync(
      file,
      `agent_id = "update-test"\nserver = "127.0.0.1:1"\napi_key = "${API_KEY}"\n[stream]\nshutdown_timeout = "0s"\n[collectors.cpu]\ninterval = "1s"\n${extra}`,
    );
    return file;
  }

  /** Starts `node script --config file`; resolves with its output lines and a promise of its exit code. */
  function run(script: string, file: string) {
    const child = spawn(process.execPath, [script, "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const lines: string[] = [];
    let partial = "";
    const onData = (d: Buffer) => {
      const parts = (partial + d.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const exit = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    const logged = (msg: string) => lines.some((l) => l.includes(`"msg":${JSON.stringify(msg)}`));
    return { child, lines, exit, logged };
  }

  async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("downloads a newer bundle, swaps it in atomically and exits 75 for systemd to restart it", async () => {
    const newer = Buffer.concat([built, Buffer.from("\n// a newer build\n")]);
    server = await startUpdateServer(newer);
    const bundle = join(dir, "vigil-agent.js");
    copyFileSync(join(buildDir, "vigil-agent.js"), bundle);
    const inodeBefore = statSync(bundle).ino;
    const agent = run(bundle, config(`[update]\nenabled = true\ninterval = "1s"\nurl = "${server.url}"\n`));

    const code = await agent.exit;

    expect(code, agent.lines.join("\n")).toBe(EXIT_UPDATED);
    expect(sha256(readFileSync(bundle))).toBe(sha256(newer));
    expect(statSync(bundle).ino).not.toBe(inodeBefore);
    expect(readdirSync(dir).sort()).toEqual(["agent.toml", "vigil-agent.js"]);
    expect(agent.logged("agent bundle updated")).toBe(true);
    expect(agent.logged("exiting so that the service manager restarts the new bundle")).toBe(true);
    expect(agent.logged("vigil-agent stopped")).toBe(true);
  }, 30_000);

  it("refuses a bundle whose sha256 does not match, logs why, keeps the file and keeps running", async () => {
    server = await startUpdateServer(
      Buffer.from("// not what the manifest says\n"),
      sha256(Buffer.from("other")),
    );
    const bundle = join(dir, "vigil-agent.js");
    copyFileSync(join(buildDir, "vigil-agent.js"), bundle);
    const agent = run(bundle, config(`[update]\nenabled = true\ninterval = "1s"\nurl = "${server.url}"\n`));

    await until(
      () =>
        agent.logged(
          "agent update refused: the download does not match the manifest's sha256; the running bundle is unchanged",
        ),
      "the refusal",
    );
    expect(readFileSync(bundle)).toEqual(built);
    expect(agent.child.exitCode).toBeNull();
    agent.child.kill("SIGTERM");
    expect(await agent.exit).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["agent.toml", "vigil-agent.js"]);
  }, 30_000);

  it("does nothing without an [update] section (off by default)", async () => {
    server = await startUpdateServer(Buffer.concat([built, Buffer.from("\n// newer\n")]));
    const bundle = join(dir, "vigil-agent.js");
    copyFileSync(join(buildDir, "vigil-agent.js"), bundle);
    const agent = run(bundle, config(""));
    await until(() => agent.logged("vigil-agent started"), "the start");
    // Three update intervals' worth of the shortest allowed interval.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(server.requests).toEqual([]);
    expect(agent.logged("self-update enabled")).toBe(false);
    agent.child.kill("SIGTERM");
    expect(await agent.exit).toBe(0);
    expect(readFileSync(bundle)).toEqual(built);
  }, 30_000);

  it("replaces nothing when not run from the bundle, and says so once", async () => {
    server = await startUpdateServer(built);
    const agent = run(
      join(AGENT_DIR, "bin/vigil-agent.js"),
      config(`[update]\nenabled = true\ninterval = "1s"\nurl = "${server.url}"\n`),
    );
    await until(() => agent.logged("vigil-agent started"), "the start");
    await new Promise((r) => setTimeout(r, 2_000));
    const notice =
      "self-update is enabled, but this agent does not run from its single-file bundle (vigil-agent.js); nothing will be replaced";
    expect(agent.lines.filter((l) => l.includes(notice))).toHaveLength(1);
    expect(server.requests).toEqual([]);
    agent.child.kill("SIGTERM");
    expect(await agent.exit).toBe(0);
  }, 30_000);
});
