import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { builtinCollectors, defaultOptions } from "@vigil/collectors";
import { describe, expect, it } from "vitest";
import { readApiKey } from "./api-key.js";
import { enabledCollectors, knownCollectorNames } from "./collector-set.js";
import { loadAgentConfig } from "./config.js";
import { configErrorOf, tempDirPerTest } from "./test-support.js";

/** The test-only certificates (packages/e2e/fixtures/tls/README.md). */
const TLS_FIXTURES = join(import.meta.dirname, "../../e2e/fixtures/tls");
const CA = join(TLS_FIXTURES, "ca.pem");
const CLIENT_CERT = join(TLS_FIXTURES, "client.pem");
const CLIENT_KEY = join(TLS_FIXTURES, "client.key");

const tmp = tempDirPerTest("vigil-agent-config-");

function write(name: string, text: string): string {
  const file = join(tmp.path, name);
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, text);
  return file;
}

describe("knownCollectorNames", () => {
  it("lists the built-in collectors", async () => {
    expect(knownCollectorNames()).toEqual(
      "cpu, memory, load, processes, filehandles, pressure, hwmon, filesystem, diskio, network, systemd, gpu, textfile, directory, exec".split(
        ", ",
      ),
    );
  });
});

describe("loadAgentConfig: [tls] and plaintext", () => {
  it.each([
    ['server = "10.0.0.5:9801"\n', 1, "server", /10\.0\.0\.5:9801 is not a loopback address/],
    [`[tls]\ncert = "${CLIENT_CERT}"\n`, 2, "tls.cert", /needs both tls\.cert and tls\.key/],
    [`[tls]\nkey = "${CLIENT_KEY}"\n`, 2, "tls.key", /needs both tls\.cert and tls\.key/],
    [`[tls]\nca = "${CLIENT_KEY}"\n`, 2, "tls.ca", /holds no PEM certificate/],
    [`[tls]\ncert = "${CLIENT_CERT}"\nkey = "${CLIENT_CERT}"\n`, 3, "tls.key", /holds no PEM private key/],
    ['[stream]\nkeepalive_time = "5s"\n', 2, "stream.keepalive_time", /shorter than the minimum 10000 ms/],
  ])("refuses %j at line %i, key %s", async (text, line, key, problem) => {
    const file = write("agent.toml", text);
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err).toMatchObject({ file, line, key });
    expect(err.problem).toMatch(problem);
  });

  it("allows plaintext to loopback and, with tls.insecure = true, anywhere; TLS anywhere", async () => {
    for (const server of ["127.0.0.1:9801", "127.8.9.10:1", "[::1]:9801", "localhost:9801"]) {
      const c = await loadAgentConfig(write("agent.toml", `server = "${server}"\n`));
      expect(c.tls).toBeUndefined();
    }
    const insecure = await loadAgentConfig(
      write("agent.toml", 'server = "10.0.0.5:9801"\n[tls]\ninsecure = true\n'),
    );
    expect(insecure).toMatchObject({ tls: undefined, insecure: true });
    const tls = await loadAgentConfig(write("agent.toml", `server = "10.0.0.5:9801"\n[tls]\nca = "${CA}"\n`));
    expect(tls.tls).toMatchObject({ caFile: CA, cert: undefined, serverName: undefined });
  });
});

describe("loadAgentConfig", () => {
  it("fills every default for a file that sets nothing", async () => {
    const file = write("agent.toml", "# empty\n");
    expect(await loadAgentConfig(file)).toEqual({
      file,
      plugins: [],
      registrations: expect.any(Array),
      agentId: hostname(),
      server: { host: "127.0.0.1", port: 9801 },
      apiKey: undefined,
      apiKeyFile: undefined,
      logLevel: "info",
      labels: {},
      procfsRoot: "/proc",
      sysfsRoot: "/sys",
      bufferMaxSamples: 1_000_000,
      spoolDir: undefined,
      spoolMaxBytes: 256 * 1024 * 1024,
      batchMaxSamples: 5_000,
      flushIntervalMs: 1_000,
      maxInFlight: 16,
      backoffInitialMs: 500,
      backoffMaxMs: 30_000,
      shutdownTimeoutMs: 5_000,
      keepaliveTimeMs: 30_000,
      keepaliveTimeoutMs: 10_000,
      tls: undefined,
      insecure: false,
      update: undefined,
      // Every collector appears, with its options' defaults, even without a section.
      collectors: Object.fromEntries(
        builtinCollectors().map((r) => [
          r.name,
          { enabled: undefined, intervalMs: undefined, options: defaultOptions(r) },
        ]),
      ),
    });
  });

  it("reads every key", async () => {
    const file = write(
      "agent.toml",
      [
        'agent_id = "web-1"',
        'server = "[::1]:7000"',
        'api_key = "secret"',
        'log_level = "debug"',
        "[labels]",
        'env = "prod"',
        'dc = "eu-1"',
        "[paths]",
        'procfs = "/host/proc"',
        'sysfs = "/host/sys"',
        "[buffer]",
        "max_samples = 2000",
        'spool_dir = "spool"',
        "spool_max_bytes = 1048576",
        "[stream]",
        "batch_max_samples = 100",
        'flush_interval = "250ms"',
        "max_in_flight = 4",
        'reconnect_backoff_initial = "1s"',
        'reconnect_backoff_max = "1m"',
        'shutdown_timeout = "0s"',
        'keepalive_time = "20s"',
        'keepalive_timeout = "5s"',
        "[tls]",
        `ca = "${CA}"`,
        `cert = "${CLIENT_CERT}"`,
        `key = "${CLIENT_KEY}"`,
        'server_name = "vigil.example"',
        "[collectors.cpu]",
        'interval = "1s"',
        "[collectors.memory]",
        "enabled = false",
      ].join("\n"),
    );
    const c = await loadAgentConfig(file);
    const defaults = Object.fromEntries(
      builtinCollectors().map((r) => [
        r.name,
        { enabled: undefined, intervalMs: undefined, options: defaultOptions(r) },
      ]),
    );
    expect(c).toEqual({
      file,
      plugins: [],
      registrations: expect.any(Array),
      agentId: "web-1",
      server: { host: "::1", port: 7000 },
      apiKey: "secret",
      apiKeyFile: undefined,
      logLevel: "debug",
      labels: { env: "prod", dc: "eu-1" },
      procfsRoot: "/host/proc",
      sysfsRoot: "/host/sys",
      bufferMaxSamples: 2_000,
      spoolDir: join(dirname(file), "spool"),
      spoolMaxBytes: 1_048_576,
      batchMaxSamples: 100,
      flushIntervalMs: 250,
      maxInFlight: 4,
      backoffInitialMs: 1_000,
      backoffMaxMs: 60_000,
      shutdownTimeoutMs: 0,
      keepaliveTimeMs: 20_000,
      keepaliveTimeoutMs: 5_000,
      tls: {
        caFile: CA,
        certFile: CLIENT_CERT,
        keyFile: CLIENT_KEY,
        ca: readFileSync(CA),
        cert: readFileSync(CLIENT_CERT),
        key: readFileSync(CLIENT_KEY),
        serverName: "vigil.example",
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      insecure: false,
      update: undefined,
      collectors: {
        ...defaults,
        cpu: { enabled: undefined, intervalMs: 1_000, options: {} },
        memory: { enabled: false, intervalMs: undefined, options: {} },
      },
    });
  });

  it("resolves a relative api_key_file and procfs against the config file's directory, not the cwd", async () => {
    const file = write(
      "etc/vigil/agent.toml",
      'api_key_file = "keys/api.key"\n[paths]\nprocfs = "../fixtures/proc"\n',
    );
    const c = await loadAgentConfig(file);
    expect(c.apiKeyFile).toBe(join(tmp.path, "etc/vigil/keys/api.key"));
    expect(c.procfsRoot).toBe(join(tmp.path, "etc/fixtures/proc"));
  });

  it("keeps an absolute api_key_file as it is", async () => {
    const file = write("agent.toml", 'api_key_file = "/var/lib/vigil-agent/api.key"\n');
    expect((await loadAgentConfig(file)).apiKeyFile).toBe("/var/lib/vigil-agent/api.key");
  });

  it("refuses api_key and api_key_file together, naming the api_key line", async () => {
    const file = write("agent.toml", 'agent_id = "a"\napi_key_file = "k"\napi_key = "inline"\n');
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.message).toBe(`${file}:3: api_key: set api_key or api_key_file, not both`);
  });

  it("refuses a backoff max shorter than its initial, naming the line", async () => {
    const file = write(
      "agent.toml",
      '[stream]\nreconnect_backoff_initial = "10s"\nreconnect_backoff_max = "5s"\n',
    );
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.line).toBe(3);
    expect(err.key).toBe("stream.reconnect_backoff_max");
    expect(err.problem).toBe("must not be shorter than stream.reconnect_backoff_initial");
  });

  it("refuses a backoff max shorter than the default initial when only max is set", async () => {
    const file = write("agent.toml", '\n[stream]\nreconnect_backoff_max = "100ms"\n');
    expect((await configErrorOf(() => loadAgentConfig(file))).line).toBe(3);
  });

  it("refuses an unknown collector, naming its section's line and the known ones", async () => {
    const file = write(
      "agent.toml",
      '[collectors.cpu]\ninterval = "1s"\n\n[collectors.gpux]\nenabled = true\n',
    );
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.message).toBe(
      `${file}:4: collectors.gpux: unknown collector "gpux" (known: cpu, memory, load, processes, filehandles, pressure, hwmon, filesystem, diskio, network, systemd, gpu, textfile, directory, exec)`,
    );
  });

  it("finds an unknown collector written as a dotted key", async () => {
    const file = write("agent.toml", '[collectors]\ncpu.interval = "1s"\ndisks.enabled = false\n');
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.line).toBe(3);
    expect(err.key).toBe("collectors.disks");
  });

  it.each([
    ['agent_id = "bad id"\n', 1, "agent_id"],
    ['\nserver = "localhost"\n', 2, "server"],
    ['[labels]\n1bad = "x"\n', 2, "labels.1bad"],
    ["[buffer]\nmax_samples = 10\n", 2, "buffer.max_samples"],
    ['[collectors.cpu]\ninterval = "50ms"\n', 2, "collectors.cpu.interval"],
    ['[collectors.cpu]\nintervall = "5s"\n', 2, "collectors.cpu.intervall"],
    ["[stream]\nmax_in_flight = 0\n", 2, "stream.max_in_flight"],
    ['log_level = "verbose"\n', 1, "log_level"],
  ])("refuses %j at line %d, key %s", async (text, line, key) => {
    const file = write("agent.toml", text);
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.file).toBe(file);
    expect(err.line).toBe(line);
    expect(err.key).toBe(key);
  });

  it("explains the agent id rule and unknown keys", async () => {
    const bad = write("a.toml", 'agent_id = "-x"\n');
    expect((await configErrorOf(() => loadAgentConfig(bad))).problem).toBe(
      'use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
    const typo = write("b.toml", "[collectors.cpu]\nenable = true\n");
    expect((await configErrorOf(() => loadAgentConfig(typo))).problem).toBe(
      "unknown key (allowed here: enabled, interval)",
    );
  });

  it("reports a missing file as ENOENT", async () => {
    const file = join(tmp.path, "nope.toml");
    expect((await configErrorOf(() => loadAgentConfig(file))).message).toBe(
      `${file}: cannot read the file (ENOENT)`,
    );
  });
});

describe("loadAgentConfig: buffer.spool_max_bytes", () => {
  it.each([
    ["spool_max_bytes = 1048576", 1_048_576],
    ['spool_max_bytes = "256MiB"', 268_435_456],
    ['spool_max_bytes = "1 GiB"', 1_073_741_824],
    ['spool_max_bytes = "500MB"', 500_000_000],
    ['spool_max_bytes = "64KiB"', 65_536],
  ])("reads %s", async (line, bytes) => {
    const file = write("agent.toml", `api_key = "k"\n[buffer]\n${line}\n`);
    expect((await loadAgentConfig(file)).spoolMaxBytes).toBe(bytes);
  });

  it.each([
    ['spool_max_bytes = "256XB"', 'unknown unit "XB"'],
    ['spool_max_bytes = "256mb"', 'unknown unit "mb" (did you mean "MB"? units are case-sensitive)'],
    [
      'spool_max_bytes = "32KiB"',
      '"32KiB" is 32768 bytes, outside 65536 (64 KiB) – 1099511627776 (1 TiB) bytes',
    ],
    ["spool_max_bytes = 1.5", "1.5 is not a whole number of bytes"],
    ["spool_max_bytes = true", "expected a whole number of bytes, or a number with a unit"],
  ])("refuses %s, naming the line and key", async (line, problem) => {
    const file = write("agent.toml", `api_key = "k"\n[buffer]\n${line}\n`);
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.line).toBe(3);
    expect(err.key).toBe("buffer.spool_max_bytes");
    expect(err.problem).toContain(problem);
  });

  it("takes a size string from VIGIL_AGENT__BUFFER__SPOOL_MAX_BYTES", async () => {
    const file = write("agent.toml", 'api_key = "k"\n');
    const config = await loadAgentConfig(file, { env: { VIGIL_AGENT__BUFFER__SPOOL_MAX_BYTES: "2GiB" } });
    expect(config.spoolMaxBytes).toBe(2 * 1024 ** 3);
  });
});

describe("loadAgentConfig: [update]", () => {
  it("is off by default", async () => {
    const file = write("agent.toml", 'api_key = "k"\n');
    expect((await loadAgentConfig(file)).update).toBeUndefined();
  });

  it("reads enabled, interval and url", async () => {
    const file = write(
      "agent.toml",
      'api_key = "k"\n[update]\nenabled = true\ninterval = "12h"\nurl = "https://vigil.example.net:9800/base"\n',
    );
    const { update } = await loadAgentConfig(file);
    expect(update?.intervalMs).toBe(12 * 3_600_000);
    expect(update?.baseUrl.href).toBe("https://vigil.example.net:9800/base/");
  });

  it.each([
    ["[update]\nenabled = true\n", 2, "update.enabled", /needs update\.url/],
    ['[update]\nenabled = true\nurl = "vigil:9800"\n', 3, "update.url", /not an http:\/\/ or https:\/\/ URL/],
    ['[update]\nenabled = true\nurl = "nope"\n', 3, "update.url", /"nope" is not a URL/],
    ['[update]\nenabled = true\nurl = "http://10.0.0.5:9800"\n', 3, "update.url", /clear text/],
    ['[update]\ninterval = "10ms"\n', 2, "update.interval", /shorter than the minimum 1000 ms/],
  ])("refuses %j at line %i, key %s", async (text, line, key, problem) => {
    const file = write("agent.toml", `api_key = "k"\n${text}`);
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.line).toBe(line + 1);
    expect(err.key).toBe(key);
    expect(err.problem).toMatch(problem);
  });

  it("allows plain http to a remote server only with tls.insecure", async () => {
    const file = write(
      "agent.toml",
      'api_key = "k"\nserver = "10.0.0.5:9801"\n[tls]\ninsecure = true\n[update]\nenabled = true\nurl = "http://10.0.0.5:9800"\n',
    );
    expect((await loadAgentConfig(file)).update?.baseUrl.href).toBe("http://10.0.0.5:9800/");
  });
});

describe("readApiKey", () => {
  it("prefers the inline key", async () => {
    const file = write("agent.toml", 'api_key = "vga_inline"\n');
    expect(readApiKey(await loadAgentConfig(file))).toBe("vga_inline");
  });

  it("reads the key file, trimming the newline", async () => {
    write("api.key", "vga_fromfile\n");
    const file = write("agent.toml", 'api_key_file = "api.key"\n');
    expect(readApiKey(await loadAgentConfig(file))).toBe("vga_fromfile");
  });

  it("says how to enroll when no key is configured", async () => {
    const file = write("agent.toml", "");
    const err = await configErrorOf(async () => readApiKey(await loadAgentConfig(file)));
    expect(err.key).toBe("api_key_file");
    expect(err.problem).toBe(
      "no API key: set api_key_file and run `vigil-agent enroll --config FILE --server HOST:PORT --token T`",
    );
  });

  it("names the missing key file and ENOENT", async () => {
    const file = write("agent.toml", 'api_key_file = "missing.key"\n');
    const err = await configErrorOf(async () => readApiKey(await loadAgentConfig(file)));
    expect(err.problem).toBe(
      `cannot read ${join(tmp.path, "missing.key")} (ENOENT); enroll first: vigil-agent enroll --config ${file} --server HOST:PORT --token T`,
    );
  });

  it("refuses an empty key file", async () => {
    write("api.key", "  \n");
    const file = write("agent.toml", 'api_key_file = "api.key"\n');
    expect((await configErrorOf(async () => readApiKey(await loadAgentConfig(file)))).problem).toBe(
      `${join(tmp.path, "api.key")} is empty`,
    );
  });
});

describe("enabledCollectors", () => {
  it("runs every default collector at the default interval unless configured", async () => {
    expect(
      enabledCollectors({ collectors: {}, registrations: builtinCollectors() }).map((c) => [
        c.collector.name,
        c.intervalMs,
      ]),
    ).toEqual(
      builtinCollectors()
        .filter((r) => r.defaultEnabled)
        .map((r) => [r.name, r.defaultIntervalMs]),
    );
    // directory and exec need configuring, so they are off unless a section enables them.
    expect(
      builtinCollectors()
        .filter((r) => !r.defaultEnabled)
        .map((r) => r.name),
    ).toEqual(["directory", "exec"]);
  });

  it("honours enabled = false and a configured interval", async () => {
    const off = Object.fromEntries(
      builtinCollectors().map((r) => [
        r.name,
        { enabled: false, intervalMs: undefined, options: defaultOptions(r) },
      ]),
    );
    const set = enabledCollectors({
      registrations: builtinCollectors(),
      collectors: {
        ...off,
        cpu: { enabled: undefined, intervalMs: 1_000, options: {} },
        exec: {
          enabled: true,
          intervalMs: undefined,
          options: defaultOptions(builtinCollectors().find((r) => r.name === "exec")!),
        },
      },
    });
    expect(set.map((c) => [c.collector.name, c.intervalMs])).toEqual([
      ["cpu", 1_000],
      ["exec", 10_000],
    ]);
  });
});
