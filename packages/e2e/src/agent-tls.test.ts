import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  cleanupAfterEach,
  copyFixture,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  runCli,
  SERVER_BIN,
  type ServerHandle,
  startNode,
  startServer,
  tempDir,
} from "./harness.js";

/** Test-only certificates (packages/e2e/fixtures/tls/README.md). */
const TLS = join(import.meta.dirname, "../fixtures/tls");
const pem = (name: string) => join(TLS, name);

const FAST = `[collectors.memory]\ninterval = "200ms"\n`;

describe("TLS and mutual TLS between agent and server", () => {
  const cleanups = cleanupAfterEach();

  /** A server with `[tls]` as given, in a fresh temp dir. */
  async function tlsServer(tlsToml: string): Promise<{ server: ServerHandle; dir: string }> {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.path, "server.toml");
    writeFileSync(file, `[tls]\n${tlsToml}\n`);
    const server = await startServer(join(tmp.path, "data"), undefined, "info", ["--config", file]);
    cleanups.push(() => server.proc.stop());
    return { server, dir: tmp.path };
  }

  /** Starts an agent with an inline key and the given `[tls]` lines (no enrolment: the key is given). */
  function agentWithKey(
    dir: string,
    name: string,
    server: ServerHandle,
    apiKey: string,
    tlsToml: string,
  ): Proc {
    const file = join(dir, `${name}.toml`);
    writeFileSync(
      file,
      `agent_id = "${name}"\nserver = "127.0.0.1:${server.grpcPort}"\napi_key = "${apiKey}"\n` +
        `[stream]\nreconnect_backoff_initial = "200ms"\nreconnect_backoff_max = "500ms"\n[tls]\n${tlsToml}\n${FAST}`,
    );
    const agent = startNode(AGENT_BIN, ["--config", file]);
    cleanups.push(() => agent.stop());
    return agent;
  }

  it("delivers samples over TLS, enrolment included", async () => {
    const { server, dir } = await tlsServer(`cert = "${pem("server.pem")}"\nkey = "${pem("server.key")}"`);
    expect(await server.proc.waitForLog("vigil-server listening")).toMatchObject({ tls: "TLS" });
    const proc = copyFixture("this-machine/t0/proc", join(dir, "proc"));
    const config = await enrolledAgentConfig(server, dir, {
      agentId: "tls-1",
      procfs: proc,
      extra: `[tls]\nca = "${pem("ca.pem")}"\n${FAST}`,
    });
    const agent = startNode(AGENT_BIN, ["--config", config]);
    cleanups.push(() => agent.stop());
    expect(await agent.waitForLog("vigil-agent started")).toMatchObject({ tls: "TLS" });
    await agent.waitForLog("connected to server");
    await eventually(
      () => readStoredSamples(server.dataDir, "tls-1", "memory_total_bytes").length >= 3,
      20_000,
      "samples over TLS",
    );
  }, 60_000);

  it("mutual TLS: admits a client certificate from client_ca, refuses none, an untrusted one, a wrong name and plaintext", async () => {
    const { server, dir } = await tlsServer(
      `cert = "${pem("server.pem")}"\nkey = "${pem("server.key")}"\nclient_ca = "${pem("ca.pem")}"`,
    );
    expect(await server.proc.waitForLog("vigil-server listening")).toMatchObject({ tls: "mutual TLS" });
    const goodTls = `ca = "${pem("ca.pem")}"\ncert = "${pem("client.pem")}"\nkey = "${pem("client.key")}"`;
    const config = await enrolledAgentConfig(server, dir, {
      agentId: "mtls-1",
      extra: `[tls]\n${goodTls}\n${FAST}`,
    });
    const good = startNode(AGENT_BIN, ["--config", config]);
    cleanups.push(() => good.stop());
    expect(await good.waitForLog("vigil-agent started")).toMatchObject({ tls: "mutual TLS" });
    await eventually(
      () => readStoredSamples(server.dataDir, "mtls-1", "memory_total_bytes").length >= 3,
      20_000,
      "samples over mutual TLS",
    );

    // The same agent's key, so only the transport differs: each of these must be refused.
    const key = readFileSync(join(dir, "api.key"), "utf8").trim();
    const noCert = agentWithKey(dir, "mtls-1", server, key, `ca = "${pem("ca.pem")}"`);
    const untrusted = agentWithKey(
      dir,
      "mtls-untrusted",
      server,
      key,
      `ca = "${pem("ca.pem")}"\ncert = "${pem("untrusted-client.pem")}"\nkey = "${pem("untrusted-client.key")}"`,
    );
    const wrongName = agentWithKey(
      dir,
      "mtls-wrong-name",
      server,
      key,
      `${goodTls}\nserver_name = "wrong.example"`,
    );
    const plaintext = agentWithKey(dir, "mtls-plain", server, key, "");

    const lost = (agent: Proc) =>
      agent
        .waitForLog("stream to server lost; reconnecting")
        .then((entry) => ({ reason: String(entry.reason), hint: String(entry.hint) }));
    const noCertLost = await lost(noCert);
    // What the client reads depends on timing (the server's alert, a reset, a close): the hint says
    // what to check, and the server's log (below) names the cause.
    expect(noCertLost.hint).toMatch(/tls\.cert/);
    const untrustedLost = await lost(untrusted);
    expect(untrustedLost.hint).toMatch(/tls\.client_ca/);
    const wrongNameLost = await lost(wrongName);
    expect(wrongNameLost.reason).toMatch(/wrong\.example.*altnames/);
    const plaintextLost = await lost(plaintext);
    expect(plaintextLost.hint).toMatch(/set \[tls\] ca/);

    await server.proc.waitForLog(
      "refused a client without a certificate: mutual TLS is on (tls.client_ca); set tls.cert and tls.key in its agent.toml",
    );
    const refusedUntrusted = await server.proc.waitForLog(
      "refused a client whose certificate tls.client_ca did not sign",
    );
    expect(refusedUntrusted).toMatchObject({ subject: "vigil-test-agent", clientCa: pem("ca.pem") });
    expect(refusedUntrusted.reason).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    await server.proc.waitForLog(
      "refused a client speaking plaintext to the TLS port: set [tls] ca in its agent.toml",
    );
    await server.proc.waitForLog(
      "a client closed the connection during the TLS handshake (does it trust this server's certificate and name? see its log)",
    );
    for (const agent of [noCert, untrusted, wrongName, plaintext])
      expect(agent.output).not.toContain('"msg":"connected to server"');
  }, 60_000);
});

describe("plaintext off loopback is a config error", () => {
  const cleanups = cleanupAfterEach();

  function write(name: string, text: string): string {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.path, name);
    writeFileSync(file, text);
    return file;
  }

  it("agent: a non-loopback server without [tls] exits 2 naming file, line and key; insecure = true allows it", async () => {
    const file = write("agent.toml", 'agent_id = "a"\napi_key = "k"\nserver = "192.0.2.10:9801"\n');
    const r = await runCli(AGENT_BIN, ["check-config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:3: server: 192.0.2.10:9801 is not a loopback address`);
    expect(r.stderr).toContain("tls.insecure = true");
    const ok = write("agent.toml", 'agent_id = "a"\nserver = "192.0.2.10:9801"\n[tls]\ninsecure = true\n');
    expect((await runCli(AGENT_BIN, ["check-config", ok])).code).toBe(0);
    const loopback = write("agent.toml", 'agent_id = "a"\nserver = "[::1]:9801"\n');
    expect((await runCli(AGENT_BIN, ["check-config", loopback])).code).toBe(0);
  });

  it("agent: an unreadable or non-PEM certificate file exits 2 naming the key and the file", async () => {
    const missing = write("agent.toml", `agent_id = "a"\n[tls]\nca = "/nonexistent/ca.pem"\n`);
    const r1 = await runCli(AGENT_BIN, ["check-config", missing]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`${missing}:3: tls.ca: cannot read /nonexistent/ca.pem: ENOENT`);
    const notPem = write("agent.toml", `agent_id = "a"\n[tls]\nca = "agent.toml"\n`);
    const r2 = await runCli(AGENT_BIN, ["check-config", notPem]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/:3: tls\.ca: \S+agent\.toml holds no PEM certificate/);
    const mismatch = write(
      "agent.toml",
      `agent_id = "a"\n[tls]\nca = "${pem("ca.pem")}"\ncert = "${pem("client.pem")}"\nkey = "${pem("server.key")}"\n`,
    );
    const r3 = await runCli(AGENT_BIN, ["check-config", mismatch]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain(
      `:5: tls.key: ${pem("server.key")} is not the private key of the certificate`,
    );
  });

  it("server: a non-loopback grpc_listen without [tls] exits 2; insecure = true or cert+key allow it", async () => {
    const file = write("server.toml", '[server]\ngrpc_listen = "0.0.0.0:9801"\n');
    const r = await runCli(SERVER_BIN, ["check-config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2: server.grpc_listen: 0.0.0.0 is not a loopback address`);
    const fromEnv = await runCli(SERVER_BIN, ["check-config", write("server.toml", "")], {
      VIGIL_GRPC_LISTEN: "0.0.0.0:9801",
    });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain("environment: VIGIL_GRPC_LISTEN: 0.0.0.0 is not a loopback address");
    const insecure = write("server.toml", '[server]\ngrpc_listen = "0.0.0.0:9801"\n[tls]\ninsecure = true\n');
    expect((await runCli(SERVER_BIN, ["check-config", insecure])).code).toBe(0);
    const withTls = write(
      "server.toml",
      `[server]\ngrpc_listen = "0.0.0.0:9801"\n[tls]\ncert = "${pem("server.pem")}"\nkey = "${pem("server.key")}"\n`,
    );
    expect((await runCli(SERVER_BIN, ["check-config", withTls])).code).toBe(0);
    const badCert = write(
      "server.toml",
      `[tls]\ncert = "${pem("server.key")}"\nkey = "${pem("server.key")}"\n`,
    );
    const r2 = await runCli(SERVER_BIN, ["check-config", badCert]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${badCert}:2: tls.cert: ${pem("server.key")} holds no PEM certificate`);
  });
});
