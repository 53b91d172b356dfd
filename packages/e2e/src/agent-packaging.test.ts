import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_PROCESS_ENV } from "@vigil/agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEnrollToken, runCli, type ServerHandle, startNode, startServer, tempDir } from "./harness.js";

const ROOT = join(import.meta.dirname, "../../..");
const BUNDLE = join(ROOT, "packages/agent/dist/vigil-agent.js");
const tmp = tempDir("vigil-e2e-bundle-");
/** A copy of the bundle away from any node_modules, to prove it needs none. */
const lone = join(tmp.path, "vigil-agent.js");
let server: ServerHandle | undefined;

beforeAll(async () => {
  // What `npm run build` runs after `tsc -b` (which runs before the tests).
  const r = await runCli(join(ROOT, "packages/agent/scripts/bundle.mjs"), []);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  copyFileSync(BUNDLE, lone);
}, 60_000);
afterAll(async () => {
  await server?.proc.stop();
  tmp.cleanup();
});

describe("the single-file agent bundle", () => {
  it("exists after the build, is one ES module with a node shebang", () => {
    expect(existsSync(BUNDLE)).toBe(true);
    expect(statSync(BUNDLE).size).toBeGreaterThan(100_000);
    const text = readFileSync(BUNDLE, "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(text).not.toMatch(/from "@vigil\//);
    // V8 holds the whole source in memory while the agent runs, at two bytes a character as soon as
    // one is not ASCII (scripts/bundle.mjs): minified, ASCII, without zod's unused parts (import
    // zod as a namespace, `import * as z`, or the bundle doubles) and without @grpc/proto-loader.
    expect(Buffer.byteLength(text, "utf8")).toBe(text.length); // ASCII: one byte per character
    expect(statSync(BUNDLE).size).toBeLessThan(800_000);
    expect(text).toMatch(/\w\("@grpc\/proto-loader"\)/); // a require left in place, never called
    expect(readFileSync(join(ROOT, "package.json"), "utf8")).toContain(
      '"build": "tsc -b && node packages/agent/scripts/bundle.mjs && node packages/agent/scripts/sea.mjs"',
    );
  });

  it("runs --help and --version on its own", async () => {
    const help = await runCli(lone, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("vigil-agent check-config FILE");
    const version = await runCli(lone, ["--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("collect --once --json reads this machine", async () => {
    const r = await runCli(lone, ["collect", "--once", "--json", "--interval", "200ms"]);
    expect(r.code).toBe(0);
    const samples = r.stdout
      .trim()
      .split("\n")
      .map(
        (l) => JSON.parse(l) as { metric: string; labels: Record<string, string>; value: number; ts: number },
      );
    const total = samples.find((s) => s.metric === "cpu_usage_percent" && s.labels.cpu === "total");
    expect(total?.value).toBeGreaterThanOrEqual(0);
    expect(samples.some((s) => s.metric === "memory_total_bytes")).toBe(true);
  });

  it("enrols and streams to a real server over gRPC", async () => {
    server = await startServer(join(tmp.path, "data"));
    const file = join(tmp.path, "agent.toml");
    writeFileSync(
      file,
      `agent_id = "bundle-1"\nserver = "127.0.0.1:${server.grpcPort}"\napi_key_file = "api.key"\n[collectors.cpu]\ninterval = "1s"\n`,
    );
    const token = await createEnrollToken(server);
    const enroll = await runCli(lone, ["enroll", "--config", file, "--token", token]);
    expect(enroll.stderr).toBe("");
    expect(enroll.code).toBe(0);
    const agent = startNode(lone, ["--config", file]);
    await agent.waitForLog("connected to server");
    expect(await agent.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  });
});

describe("deploy/", () => {
  const unit = readFileSync(join(ROOT, "deploy/systemd/vigil-agent.service"), "utf8");
  /** `Key=value` lines of one [Section] of the unit file. */
  const section = (name: string): Map<string, string> => {
    const out = new Map<string, string>();
    let current = "";
    for (const raw of unit.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const header = /^\[(.+)\]$/.exec(line);
      if (header) current = header[1] as string;
      else if (current === name) {
        const eq = line.indexOf("=");
        out.set(line.slice(0, eq), line.slice(eq + 1));
      }
    }
    return out;
  };

  it("the systemd unit is hardened and runs the bundle", () => {
    const service = section("Service");
    expect(service.get("ExecStart")).toBe(
      "/usr/bin/env node /opt/vigil-agent/vigil-agent.js --config /etc/vigil/agent.toml",
    );
    expect(service.get("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(service.get("User") === "vigil-agent" || service.get("DynamicUser") === "yes").toBe(true);
    for (const [key, value] of [
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["NoNewPrivileges", "yes"],
      ["PrivateTmp", "yes"],
      ["StateDirectory", "vigil-agent"],
      ["ReadWritePaths", "/var/lib/vigil-agent"],
      ["CapabilityBoundingSet", ""],
    ] as const)
      expect(service.get(key), key).toBe(value);
    // /proc must stay readable in full for the processes collector; Node's JIT needs W+X memory.
    for (const key of ["ProtectProc", "ProcSubset", "MemoryDenyWriteExecute"])
      expect(service.has(key), key).toBe(false);
    expect(section("Install").get("WantedBy")).toBe("multi-user.target");
  });

  it("the unit and the container image start the agent with AGENT_PROCESS_ENV", () => {
    const environment = section("Service").get("Environment");
    const dockerfile = readFileSync(join(ROOT, "Dockerfile.agent"), "utf8");
    const entries = Object.entries(AGENT_PROCESS_ENV);
    expect(entries.length).toBeGreaterThan(0);
    expect(environment).toBe(entries.map(([k, v]) => `${k}=${v}`).join(" "));
    for (const [key, value] of entries) expect(dockerfile).toContain(`\nENV ${key}=${value}\n`);
  });

  it("systemd-analyze verify accepts the unit, where systemd is installed", () => {
    const r = spawnSync("systemd-analyze", ["verify", join(ROOT, "deploy/systemd/vigil-agent.service")], {
      encoding: "utf8",
    });
    if (r.error) return; // no systemd-analyze on this machine
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("install-agent.sh stages the bundle, the unit and a config under DESTDIR", () => {
    const dest = join(tmp.path, "root");
    const script = join(ROOT, "deploy/install-agent.sh");
    expect(readFileSync(script, "utf8")).toContain("set -euo pipefail");
    const ca = join(ROOT, "packages/e2e/fixtures/tls/ca.pem");
    const r = spawnSync("bash", [script, "--server", "10.0.0.9:9801", "--ca", ca], {
      encoding: "utf8",
      env: { ...process.env, DESTDIR: dest, BUNDLE },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(readFileSync(join(dest, "opt/vigil-agent/vigil-agent.js"))).toEqual(readFileSync(BUNDLE));
    expect(readFileSync(join(dest, "etc/systemd/system/vigil-agent.service"), "utf8")).toBe(unit);
    const config = join(dest, "etc/vigil/agent.toml");
    expect(readFileSync(config, "utf8")).toContain('server = "10.0.0.9:9801"');
    expect(readFileSync(config, "utf8")).toContain('[tls]\nca = "tls/ca.pem"');
    expect(readFileSync(join(dest, "etc/vigil/tls/ca.pem"))).toEqual(readFileSync(ca));
    // The config it writes is valid.
    const check = spawnSync(process.execPath, [lone, "check-config", config], { encoding: "utf8" });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
    // A second run keeps the edited config.
    writeFileSync(config, 'server = "10.0.0.10:9801"\n');
    spawnSync("bash", [script], { env: { ...process.env, DESTDIR: dest, BUNDLE } });
    expect(readFileSync(config, "utf8")).toBe('server = "10.0.0.10:9801"\n');
  });

  it("install-agent.sh --self-update turns [update] on and lets the unit write the bundle's directory", () => {
    const dest = join(tmp.path, "root-update");
    const script = join(ROOT, "deploy/install-agent.sh");
    const env = { ...process.env, DESTDIR: dest, BUNDLE };
    const r = spawnSync("bash", [script, "--self-update", "http://127.0.0.1:9800"], {
      encoding: "utf8",
      env,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const config = join(dest, "etc/vigil/agent.toml");
    expect(readFileSync(config, "utf8")).toContain("[update]\n");
    expect(readFileSync(config, "utf8")).toContain('enabled = true\nurl = "http://127.0.0.1:9800"\n');
    expect(
      readFileSync(join(dest, "etc/systemd/system/vigil-agent.service.d/self-update.conf"), "utf8"),
    ).toMatch(/^\[Service\]\nReadWritePaths=\/opt\/vigil-agent$/m);
    const check = spawnSync(process.execPath, [lone, "check-config", config], { encoding: "utf8" });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
    // The unit restarts on the exit status of a self-update, without calling it a failure.
    expect(section("Service").get("RestartForceExitStatus")).toBe("75");
    expect(section("Service").get("SuccessExitStatus")).toBe("75");
    const bad = spawnSync("bash", [script, "--self-update", "ftp://x"], { encoding: "utf8", env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('install-agent.sh: --self-update: "ftp://x" is not an http:// or https:// URL\n');
  });

  it("install-agent.sh --insecure writes a valid plaintext config; a missing --ca file exits 2", () => {
    const dest = join(tmp.path, "root-insecure");
    const script = join(ROOT, "deploy/install-agent.sh");
    const env = { ...process.env, DESTDIR: dest, BUNDLE };
    const r = spawnSync("bash", [script, "--server", "10.0.0.9:9801", "--insecure"], {
      encoding: "utf8",
      env,
    });
    expect(r.stderr).toBe("");
    const config = join(dest, "etc/vigil/agent.toml");
    expect(readFileSync(config, "utf8")).toContain(
      "[tls]\n# Plaintext to a non-loopback server, chosen with --insecure.\ninsecure = true\n",
    );
    const check = spawnSync(process.execPath, [lone, "check-config", config], { encoding: "utf8" });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
    const bad = spawnSync("bash", [script, "--server", "10.0.0.9:9801", "--ca", join(dest, "nope.pem")], {
      encoding: "utf8",
      env: { ...env, DESTDIR: join(tmp.path, "root-bad") },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`install-agent.sh: --ca: no file ${join(dest, "nope.pem")}\n`);
  });
});
