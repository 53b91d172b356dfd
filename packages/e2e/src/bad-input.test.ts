import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import {
  BatchSchema,
  createIngestClient,
  ErrorCode,
  encodeBatch,
  RegisterRequestSchema,
  SeriesSchema,
} from "@vigil/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEnrollToken, readStoredSamples, type ServerHandle, startServer, tempDir } from "./harness.js";
import { frameBytes, openRawStream, responses } from "./raw-ingest-client.js";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function registerAgent(address: string, token: string, agentId: string): Promise<string> {
  const client = createIngestClient(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.register(
      create(RegisterRequestSchema, { token, agentId, hostname: "test" }),
      new Metadata(),
      {},
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res?.apiKey ?? "");
      },
    ),
  );
}

describe("bad input at the gRPC port", () => {
  let server: ServerHandle;
  let address: string;
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    tmp = tempDir();
    server = await startServer(join(tmp.path, "data"));
    address = `127.0.0.1:${server.grpcPort}`;
  });
  afterAll(async () => {
    await server.proc.stop();
    tmp.cleanup();
  });

  it("refuses a wrong API key with UNAUTHENTICATED and never logs the key", async () => {
    const wrongKey = "vga_this-key-does-not-exist-0123456789abcdef";
    const call = openRawStream(address, wrongKey);
    const err = await new Promise<{ code: number; details: string }>((resolve) => call.on("error", resolve));
    call.close();
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/API key/);
    await server.proc.waitForLine((l) => l.includes("ingest stream refused"));
    expect(server.proc.output).not.toContain(wrongKey);
  });

  it("answers undecodable and invalid frames with error frames and keeps the stream serving", async () => {
    const key = await registerAgent(address, await createEnrollToken(server), "bad-1");
    const call = openRawStream(address, key);
    const r = responses(call);
    call.write(
      frameBytes({
        case: "hello",
        value: { $typeName: "vigil.v1.Hello", agentId: "bad-1", hostname: "h", version: "t", labels: {} },
      }),
    );
    await r.next((x) => x.frame.case === "welcome");

    // 1. Bytes that are not protobuf at all.
    call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    const e1 = await r.next((x) => x.frame.case === "error");
    expect(e1.frame.value).toMatchObject({ seq: 0, code: ErrorCode.INVALID_BATCH });
    expect((e1.frame.value as { message: string }).message).toMatch(/not a valid vigil\.v1\.StreamRequest/);

    // 2. Well-formed protobuf, broken batch: the metric index points outside the string table.
    const broken = create(BatchSchema, {
      seq: 41,
      baseTimestampMs: BigInt(T0),
      strings: ["m"],
      series: [create(SeriesSchema, { metric: 7, timestampOffsetsMs: [0], values: [1] })],
    });
    call.write(frameBytes({ case: "batch", value: broken }));
    const e2 = await r.next((x) => x.frame.case === "error" && (x.frame.value as { seq: number }).seq === 41);
    expect((e2.frame.value as { message: string }).message).toMatch(
      /metric index 7 is outside the string table/,
    );

    // 3. A timestamp storage cannot file (past year 9999) is refused for good, not retried forever.
    const future = encodeBatch(43, [
      { metric: "m", labels: {}, timestamps: [300_000_000_000_000], values: [1] },
    ]);
    call.write(frameBytes({ case: "batch", value: future }));
    const e4 = await r.next((x) => x.frame.case === "error" && (x.frame.value as { seq: number }).seq === 43);
    expect(e4.frame.value).toMatchObject({ code: ErrorCode.INVALID_BATCH });

    // 4. A second hello is a protocol error, not a crash.
    call.write(
      frameBytes({
        case: "hello",
        value: { $typeName: "vigil.v1.Hello", agentId: "bad-1", hostname: "h", version: "t", labels: {} },
      }),
    );
    const e3 = await r.next(
      (x) => x.frame.case === "error" && (x.frame.value as { code: number }).code === ErrorCode.PROTOCOL,
    );
    expect((e3.frame.value as { message: string }).message).toMatch(/hello sent twice/);

    // The same stream still stores a good batch and acks it.
    const good = encodeBatch(42, [
      { metric: "memory_total_bytes", labels: {}, timestamps: [T0, T0 + 1000], values: [5, 6] },
    ]);
    call.write(frameBytes({ case: "batch", value: good }));
    const ack = await r.next((x) => x.frame.case === "ack");
    expect(ack.frame.value).toMatchObject({ seq: 42, accepted: 2, duplicates: 0 });
    // Resending it is idempotent.
    call.write(frameBytes({ case: "batch", value: good }));
    const ack2 = await r.next(
      (x) => x.frame.case === "ack" && (x.frame.value as { duplicates: number }).duplicates === 2,
    );
    expect(ack2.frame.value).toMatchObject({ seq: 42, accepted: 0 });
    call.end();
    call.close();

    expect(readStoredSamples(server.dataDir, "bad-1").map((s) => [s.ts, s.value])).toEqual([
      [T0, 5],
      [T0 + 1000, 6],
    ]);
    const health = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/health`);
    expect(health.status).toBe(200);
  });

  it("refuses a batch before hello and a hello for another agent", async () => {
    const key = await registerAgent(address, await createEnrollToken(server), "bad-2");
    const call = openRawStream(address, key);
    const r = responses(call);
    call.write(
      frameBytes({
        case: "batch",
        value: encodeBatch(1, [{ metric: "m", labels: {}, timestamps: [T0], values: [1] }]),
      }),
    );
    const e = await r.next((x) => x.frame.case === "error");
    expect((e.frame.value as { message: string }).message).toMatch(/batch sent before hello/);
    call.write(
      frameBytes({
        case: "hello",
        value: {
          $typeName: "vigil.v1.Hello",
          agentId: "someone-else",
          hostname: "h",
          version: "t",
          labels: {},
        },
      }),
    );
    const err = await new Promise<{ code: number; details: string }>((resolve) => call.on("error", resolve));
    call.close();
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.details).toMatch(/belongs to agent "bad-2", not "someone-else"/);
  });

  it("refuses reused, expired, unknown enrolment tokens and bad agent ids with clear messages", async () => {
    const token = await createEnrollToken(server);
    expect(await registerAgent(address, token, "enrol-1")).toMatch(/^vga_/);
    await expect(registerAgent(address, token, "enrol-2")).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
      details: expect.stringMatching(/already been used/),
    });
    const expired = await createEnrollToken(server, "1ms");
    await new Promise((r) => setTimeout(r, 10));
    await expect(registerAgent(address, expired, "enrol-3")).rejects.toMatchObject({
      details: expect.stringMatching(/has expired/),
    });
    await expect(registerAgent(address, "vge_nope", "enrol-4")).rejects.toMatchObject({
      details: expect.stringMatching(/not known/),
    });
    await expect(registerAgent(address, await createEnrollToken(server), "../etc")).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/agent_id "..\/etc" is invalid/),
    });
    expect(server.proc.output).not.toContain(token);
  });

  it("keeps serving after all of the above", async () => {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/health`);
    expect(await res.json()).toMatchObject({ status: "ok" });
    expect(server.proc.child.exitCode).toBeNull();
  });
});
