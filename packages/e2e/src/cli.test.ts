import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_BIN, CONFIG_DIR, runCli, SERVER_BIN, startServer, tempDir } from "./harness.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function writeConfig(name: string, text: string): string {
  const file = join(tmp.path, name);
  writeFileSync(file, text);
  return file;
}

describe("example configs", () => {
  const files = readdirSync(CONFIG_DIR).filter((f) => f.endsWith(".toml"));
  it("there are server and agent examples", () => {
    expect(files.filter((f) => f.startsWith("server")).length).toBeGreaterThanOrEqual(2);
    expect(files.filter((f) => f.startsWith("agent")).length).toBeGreaterThanOrEqual(2);
  });
  it.each(files)("config/%s passes check-config", async (file) => {
    const bin = file.startsWith("agent") ? AGENT_BIN : SERVER_BIN;
    const r = await runCli(bin, ["check-config", join(CONFIG_DIR, file)]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(": ok");
    expect(r.code).toBe(0);
  });
});

describe("bad config exits 2 naming file, line and key", () => {
  it.each([
    [
      "server",
      "typo in a key",
      '[server]\ndata_dri = "./x"\n',
      /bad\.toml:2: server\.data_dri: unknown key \(allowed here: data_dir, http_listen, grpc_listen, log_level, agent_bundle\)/,
    ],
    ["server", "unknown section", "[server]\n\n[sever]\nx = 1\n", /bad\.toml:3: sever: unknown key/],
    [
      "server",
      "wrong type",
      "[server]\nhttp_listen = 9800\n",
      /bad\.toml:2: server\.http_listen: expected string, got number 9800/,
    ],
    [
      "server",
      "bad address",
      '[server]\ngrpc_listen = "localhost"\n',
      /bad\.toml:2: server\.grpc_listen: "localhost" is not a host:port address/,
    ],
    ["server", "TOML syntax", "[server\n", /bad\.toml:1: TOML syntax error/],
    [
      "agent",
      "typo in a collector key",
      'server = "127.0.0.1:1"\n[collectors.cpu]\nintervall = "1s"\n',
      /bad\.toml:3: collectors\.cpu\.intervall: unknown key \(allowed here: enabled, interval\)/,
    ],
    [
      "agent",
      "unknown collector",
      '[collectors.cpux]\ninterval = "1s"\n',
      /bad\.toml:1: collectors\.cpux: unknown collector "cpux" \(known: cpu, memory/,
    ],
    [
      "agent",
      "bad duration",
      '[collectors.cpu]\ninterval = "1 sec"\n',
      /bad\.toml:2: collectors\.cpu\.interval: "1 sec" is not a duration/,
    ],
    [
      "agent",
      "wrong type",
      '[buffer]\nmax_samples = "many"\n',
      /bad\.toml:2: buffer\.max_samples: expected number, got the string "many"/,
    ],
    ["agent", "bad agent id", 'agent_id = "web 1"\n', /bad\.toml:1: agent_id: /],
    [
      "server",
      "bad alert rule",
      '[[alert.rules]]\nname = "DiskFull"\nkind = "threshold"\nmetric = "disk_used_percent"\nop = ">"\nthreshold = 90\nfor = "-5m"\n',
      /bad\.toml:7: alert\.rules\.0\.for: rule "?DiskFull"?: /,
    ],
  ])("%s: %s", async (kind, _what, text, message) => {
    const file = writeConfig("bad.toml", text);
    const r = await runCli(kind === "agent" ? AGENT_BIN : SERVER_BIN, ["check-config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    // The same config given to the long-running command fails the same way.
    const run = await runCli(kind === "agent" ? AGENT_BIN : SERVER_BIN, ["--config", file], {
      VIGIL_DATA_DIR: join(tmp.path, "never-created"),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("a missing file is exit 2 with the path", async () => {
    const r = await runCli(SERVER_BIN, ["check-config", join(tmp.path, "nope.toml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.toml: cannot read the file \(ENOENT\)/);
  });

  it("a bad environment override is exit 2 naming the variable", async () => {
    const r = await runCli(SERVER_BIN, [], { VIGIL_HTTP_LISTEN: "nowhere" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/environment: VIGIL_HTTP_LISTEN: "nowhere" is not a host:port address/);
  });

  it("an agent without a key file says how to enrol", async () => {
    const file = writeConfig("nokey.toml", `server = "127.0.0.1:1"\napi_key_file = "missing.key"\n`);
    const r = await runCli(AGENT_BIN, ["--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /api_key_file: cannot read .*missing\.key \(ENOENT\); enroll first: vigil-agent enroll/,
    );
  });
});

describe("usage", () => {
  it.each([
    [SERVER_BIN, ["--help"], 0, /vigil-server token create/],
    [SERVER_BIN, ["--help"], 0, /vigil-server rules test FILE/],
    [SERVER_BIN, ["rules", "test"], 2, /rules test needs a FILE/],
    [SERVER_BIN, ["rules", "lint"], 2, /unknown rules command "lint"/],
    [AGENT_BIN, ["--help"], 0, /vigil-agent collect --once/],
    [SERVER_BIN, ["frobnicate"], 2, /unknown command "frobnicate"/],
    [AGENT_BIN, ["frobnicate"], 2, /unknown command "frobnicate"/],
    [SERVER_BIN, ["token", "create"], 2, /token create needs --name NAME/],
    [
      SERVER_BIN,
      ["token", "create", "--name", "x", "--role", "root"],
      2,
      /--role must be admin or viewer, not "root"/,
    ],
    [SERVER_BIN, ["enroll-token", "create", "--ttl", "soon"], 2, /--ttl: "soon" is not a duration/],
    [SERVER_BIN, ["--bogus"], 2, /Unknown option '--bogus'/],
    [AGENT_BIN, [], 2, /--config FILE is required/],
    [AGENT_BIN, ["collect"], 2, /collect needs --once/],
  ] as const)("%s %j exits %d", async (bin, args, code, pattern) => {
    const r = await runCli(bin, args);
    expect(r.code).toBe(code);
    expect(code === 0 ? r.stdout : r.stderr).toMatch(pattern);
  });
});

describe("collect --once", () => {
  it("prints one JSON object per sample with rates from two real readings of this machine", async () => {
    const r = await runCli(AGENT_BIN, ["collect", "--once", "--json", "--interval", "300ms"]);
    expect(r.code).toBe(0);
    const samples = r.stdout
      .trim()
      .split("\n")
      .map(
        (l) => JSON.parse(l) as { metric: string; labels: Record<string, string>; value: number; ts: number },
      );
    const total = samples.find((s) => s.metric === "cpu_usage_percent" && s.labels.cpu === "total");
    expect(total?.value).toBeGreaterThanOrEqual(0);
    expect(total?.value).toBeLessThanOrEqual(100);
    const mem = samples.find((s) => s.metric === "memory_total_bytes");
    expect(mem?.value).toBeGreaterThan(0);
    expect(Object.keys(mem ?? {}).sort()).toEqual(["labels", "metric", "ts", "value"]);
  });
});

describe("token create", () => {
  it("prints a token once that the HTTP API accepts, storing only its hash", async () => {
    const dataDir = join(tmp.path, "token-data");
    const server = await startServer(dataDir);
    try {
      const r = await runCli(SERVER_BIN, ["token", "create", "--name", "ci", "--role", "viewer"], server.env);
      expect(r.code).toBe(0);
      const token = r.stdout.trim();
      expect(token).toMatch(/^vgt_[A-Za-z0-9_-]{43}$/);
      const url = `http://127.0.0.1:${server.httpPort}/api/v1/agents`;
      expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(url, { headers: { authorization: "Bearer vgt_wrong" } })).status).toBe(401);
      const { readFileSync } = await import("node:fs");
      expect(readFileSync(join(dataDir, "vigil.db")).includes(Buffer.from(token))).toBe(false);
    } finally {
      await server.proc.stop();
    }
  });
});

describe("rules test", () => {
  const example = join(CONFIG_DIR, "rules/memory.rules-test.toml");

  it("passes on config/rules/memory.rules-test.toml (rules from server.example.toml)", async () => {
    const r = await runCli(SERVER_BIN, ["rules", "test", example]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^PASS {2}memory above 90% for 5 minutes fires HighMemory$/m);
    expect(r.stdout).toMatch(/^PASS {2}a short spike does not fire$/m);
    expect(r.stdout).toContain("2 test cases passed");
    expect(r.code).toBe(0);
  });

  it("exits 1 on a failing case and prints the diff", async () => {
    const file = writeConfig(
      "failing.rules-test.toml",
      `evaluation_interval = "1m"
[[alert.rules]]
name = "Hot"
kind = "threshold"
metric = "temp_celsius"
op = ">"
threshold = 80
for = "2m"
[[tests]]
name = "fires too late for the test"
[[tests.input_series]]
series = 'temp_celsius{sensor="cpu"}'
values = "90x10"
[[tests.alert_rule_test]]
eval_time = "1m"
alertname = "Hot"
[[tests.alert_rule_test.exp_alerts]]
exp_labels = { agent = "agent-1", sensor = "cpu" }
`,
    );
    const r = await runCli(SERVER_BIN, ["rules", "test", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}fires too late for the test$/m);
    expect(r.stdout).toMatch(/^ {6}- \{agent="agent-1", alertname="Hot", sensor="cpu"\}/m);
    expect(r.stdout).toContain("1 of 1 test cases failed");
  });

  it("exits 2 on a bad file, naming file, line and key", async () => {
    const file = writeConfig("bad.rules-test.toml", '[[tests]]\nname = "x"\nbogus = 1\n');
    const r = await runCli(SERVER_BIN, ["rules", "test", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.rules-test\.toml:3: tests\.0\.bogus: unknown key/);
    const missing = await runCli(SERVER_BIN, ["rules", "test", join(tmp.path, "nope.toml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.toml: cannot read the file \(ENOENT\)/);
  });
});
