import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, freePort, type Proc, QUICKSTART_BIN, startNode, tempDir } from "./harness.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function startQuickstart(env: NodeJS.ProcessEnv): Promise<{ proc: Proc; url: string }> {
  const proc = startNode(QUICKSTART_BIN, [], env, tmp.path);
  // Done-when: the URL is printed within 15 s of `npm start`.
  const line = await proc.waitForLine((l) => l.startsWith("Vigil is running: "), 15_000);
  return { proc, url: line.slice("Vigil is running: ".length).trim() };
}

describe("npm start (the quick start)", () => {
  it("starts a server and an enrolled local agent, serves its CPU data, stops on Ctrl-C and keeps data across restarts", async () => {
    const env = {
      VIGIL_DATA_DIR: join(tmp.path, "data"),
      VIGIL_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
      VIGIL_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
    };
    const first = await startQuickstart(env);
    const token = first.proc.lines.map((l) => /\s(vgt_[A-Za-z0-9_-]{43})\s*$/.exec(l)?.[1]).find(Boolean);
    expect(token).toBeDefined();
    const headers = { authorization: `Bearer ${token}` };
    const agents = (await (await fetch(`${first.url}/api/v1/agents`, { headers })).json()) as {
      agents: { id: string }[];
    };
    expect(agents.agents).toHaveLength(1);
    const agentId = agents.agents[0]?.id as string;
    const query = `${first.url}/api/v1/metrics?agent=${agentId}&metric=cpu_usage_percent&labels=cpu=total&from=-10m`;
    type Result = { series: { labels: Record<string, string>; points: [number, number][] }[] };
    // Done-when: within 10 s more the API returns the local agent's cpu_usage_percent points.
    const points = await eventually(
      async () => {
        const body = (await (await fetch(query, { headers })).json()) as Result;
        return body.series[0]?.points.length ? body.series[0].points : undefined;
      },
      10_000,
      "cpu points",
    );
    for (const [, v] of points) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(100);
    }

    first.proc.child.kill("SIGINT");
    const exit = await first.proc.exit;
    expect(exit.code).toBe(0);
    expect(first.proc.output).toContain("vigil-agent stopped");

    const second = await startQuickstart(env);
    try {
      // The token is printed only on the very first start; the old one still works and the data is still there.
      expect(second.proc.output).not.toMatch(/vgt_/);
      const body = (await (await fetch(query, { headers })).json()) as Result;
      const again = body.series[0]?.points ?? [];
      expect(again.slice(0, points.length)).toEqual(points);
    } finally {
      second.proc.child.kill("SIGINT");
      expect((await second.proc.exit).code).toBe(0);
    }
  });
});
