import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const fixture = fileURLToPath(new URL("../test/fixtures/shutdown-child.ts", import.meta.url));
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Runs the fixture script in its own process (signals must not reach the test runner). */
function runChild(scenario: string) {
  const result = spawnSync(process.execPath, ["--import", "tsx", fixture, scenario], {
    cwd: packageDir,
    encoding: "utf8",
    timeout: 30_000,
  });
  const lines = result.stdout.split("\n").filter((l) => l !== "");
  const plain = lines.filter((l) => !l.startsWith("{"));
  const logs = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: result.status, stderr: result.stderr, plain, logs };
}

describe("onShutdownSignal", () => {
  it("calls stop once on the first signal, ignores one within a second, and exits 1 on one a second later", () => {
    const { status, stderr, plain, logs } = runChild("twice");
    expect(stderr).toBe("");
    expect(plain).toEqual([
      "stop SIGTERM",
      "handled SIGTERM at 1000000",
      // 999 ms after the first: the same request (Ctrl-C plus a forwarded signal), ignored
      "handled SIGINT at 1000999",
    ]);
    expect(status).toBe(1);
    expect(logs.map((l) => [l.level, l.msg, l.signal])).toEqual([
      [30, "stopping", "SIGTERM"],
      [40, "second signal: exiting now", "SIGTERM"],
    ]);
  });

  it("no longer reacts once the returned function has removed its handlers", () => {
    const { status, stderr, plain, logs } = runChild("removed");
    expect(stderr).toBe("");
    expect(plain).toEqual(["handled SIGINT at 1000000", "handled SIGTERM at 1005000", "still running"]);
    expect(logs).toEqual([]);
    expect(status).toBe(0);
  });
});
