import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString("utf8").split("\n")) if (text) lines.push(JSON.parse(text));
      cb();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes JSON lines tagged with the name and pid, at the given level and above", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: "vigil-test", level: "warn", destination });
    logger.info("not shown");
    logger.warn({ n: 1 }, "shown");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, name: "vigil-test", pid: process.pid, n: 1, msg: "shown" });
  });

  it("blanks out secrets at the top level, one level down and in request headers", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: "t", destination });
    logger.info(
      {
        apiKey: "k1",
        api_key: "k2",
        token: "k3",
        password: "k4",
        authorization: "Bearer k5",
        agent: { apiKey: "k6", token: "k7", id: "web-1" },
        req: { headers: { authorization: "Bearer k8" } },
      },
      "secrets",
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"])
      expect(text).not.toContain(`"${secret}"`);
    expect(text).not.toContain("Bearer");
    expect(lines[0]).toMatchObject({
      apiKey: "[redacted]",
      token: "[redacted]",
      agent: { apiKey: "[redacted]", token: "[redacted]", id: "web-1" },
      req: { headers: { authorization: "[redacted]" } },
    });
  });
});
