import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { commandContext } from "./command-test-support.js";
import { createExecCollector, EXEC_OPTIONS, type ExecCommand, parseExecJson } from "./exec.js";
import { captureLogger } from "./test-support.js";

const T0 = 1_764_040_000_000;

function series(samples: readonly { metric: string; labels: object; value: number }[]): string[] {
  return samples
    .filter((s) => s.metric !== "exec_duration_seconds")
    .map((s) => `${s.metric}${JSON.stringify(s.labels)} ${s.value}`);
}

function cmd(name: string, command: string[], more: Partial<ExecCommand> = {}): ExecCommand {
  return { name, command, timeout: 5_000, format: "prometheus", ...more };
}

describe("parseExecJson", () => {
  it("reads a flat object and an array of samples", () => {
    expect(parseExecJson('{"queue_depth": 12, "jobs_failed": 0}')).toEqual({
      issues: [],
      samples: [
        { metric: "queue_depth", labels: {}, value: 12, timestampMs: undefined },
        { metric: "jobs_failed", labels: {}, value: 0, timestampMs: undefined },
      ],
    });
    expect(
      parseExecJson(
        '[{"metric":"queue_depth","labels":{"queue":"mail"},"value":3.5,"timestamp":1764040000000},{"metric":"up","value":1}]',
      ),
    ).toEqual({
      issues: [],
      samples: [
        { metric: "queue_depth", labels: { queue: "mail" }, value: 3.5, timestampMs: 1764040000000 },
        { metric: "up", labels: {}, value: 1, timestampMs: undefined },
      ],
    });
  });

  it("skips bad entries, one issue each, and keeps the rest", () => {
    const parsed = parseExecJson(
      '[{"metric":"ok","value":1},{"metric":"bad-name","value":1},{"metric":"s","value":"1"},{"metric":"l","value":1,"labels":{"a":1}},7]',
    );
    expect(parsed.samples.map((s) => s.metric)).toEqual(["ok"]);
    expect(parsed.issues).toHaveLength(4);
    expect(parseExecJson('{"a": 1, "b": "x", "c-d": 2}').issues).toHaveLength(2);
    expect(parseExecJson("nope").issues[0]).toMatch(/^not JSON/);
    expect(parseExecJson("42").issues).toHaveLength(1);
  });

  it("never throws, and reads back any generated flat object", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseExecJson(text)));
    fc.assert(fc.property(fc.json(), (text) => void parseExecJson(text)));
    const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,15}$/).filter((n) => n !== "__proto__");
    fc.assert(
      fc.property(fc.dictionary(name, fc.double({ noNaN: true, noDefaultInfinity: true })), (obj) => {
        const parsed = parseExecJson(JSON.stringify(obj));
        expect(parsed.issues).toEqual([]);
        expect(Object.fromEntries(parsed.samples.map((s) => [s.metric, s.value]))).toEqual(
          JSON.parse(JSON.stringify(obj)),
        );
      }),
    );
  });
});

describe("exec collector", () => {
  it("validates its options: argv arrays, default timeout and format, unique names", () => {
    expect(EXEC_OPTIONS.parse({})).toEqual({ commands: [] });
    expect(EXEC_OPTIONS.parse({ commands: [{ name: "q", command: ["/bin/true"] }] })).toEqual({
      commands: [{ name: "q", command: ["/bin/true"], timeout: 10_000, format: "prometheus" }],
    });
    expect(() => EXEC_OPTIONS.parse({ commands: [{ name: "q", command: "echo hi" }] })).toThrow();
    expect(() => EXEC_OPTIONS.parse({ commands: [{ name: "q", command: [] }] })).toThrow();
    expect(() =>
      EXEC_OPTIONS.parse({
        commands: [
          { name: "q", command: ["a"] },
          { name: "q", command: ["b"] },
        ],
      }),
    ).toThrow(/unique/);
  });

  it("runs commands (no shell), parses Prometheus text and JSON, on two ticks", async () => {
    const log = captureLogger();
    const exec = createExecCollector({
      commands: [
        cmd("prom", ["printf", 'queue_depth{queue="mail"} 7\\nlast_run 5 1764039000000\\n']),
        cmd("json", [process.execPath, "-e", 'console.log(JSON.stringify({ "json_value": 2.5 }))'], {
          format: "json",
        }),
        cmd("literal", ["echo", "$HOME", "literal 1"]),
      ],
    });
    for (const now of [T0, T0 + 10_000]) {
      const samples = await exec.collect(commandContext(now, log.logger));
      expect(series(samples)).toEqual([
        'queue_depth{"queue":"mail"} 7',
        "last_run{} 5",
        'exec_success{"command":"prom"} 1',
        "json_value{} 2.5",
        'exec_success{"command":"json"} 1',
        // echo got "$HOME" unexpanded: "$HOME literal 1" is not a sample line
        'exec_success{"command":"literal"} 0',
      ]);
      expect(samples.find((s) => s.metric === "last_run")?.ts).toBe(1764039000000);
      expect(samples.find((s) => s.metric === "json_value")?.ts).toBe(now);
      const durations = samples.filter((s) => s.metric === "exec_duration_seconds");
      expect(durations.map((s) => s.labels.command)).toEqual(["prom", "json", "literal"]);
      for (const d of durations) expect(d.value).toBeGreaterThan(0);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain('"literal" output line 1');
  });

  it("discards the output of a failing command and warns once with its stderr", async () => {
    const log = captureLogger();
    const exec = createExecCollector({
      commands: [cmd("fails", ["sh", "-c", "echo partial 1; echo 'database is down' >&2; exit 3"])],
    });
    for (const now of [T0, T0 + 1]) {
      expect(series(await exec.collect(commandContext(now, log.logger)))).toEqual([
        'exec_success{"command":"fails"} 0',
      ]);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("exited with status 3: database is down");
  });

  it("kills a command at its timeout, grandchildren included", async () => {
    const log = captureLogger();
    const exec = createExecCollector({
      commands: [cmd("slow", ["sh", "-c", "echo early 1; sleep 10"], { timeout: 200 })],
    });
    const started = Date.now();
    const samples = await exec.collect(commandContext(T0, log.logger));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(series(samples)).toEqual(['exec_success{"command":"slow"} 0']);
    const duration = samples.find((s) => s.metric === "exec_duration_seconds")?.value ?? 0;
    expect(duration).toBeGreaterThanOrEqual(0.19);
    expect(duration).toBeLessThan(3);
    expect(log.warnings()[0]?.msg).toContain("killed");
  });

  it("kills a command that writes more than the cap", async () => {
    const log = captureLogger();
    const exec = createExecCollector({ commands: [cmd("flood", ["yes", "flood 1"])] });
    expect(series(await exec.collect(commandContext(T0, log.logger)))).toEqual([
      'exec_success{"command":"flood"} 0',
    ]);
    expect(log.warnings()[0]?.msg).toContain("more output than the cap");
  });

  it("reports a missing program as a failure, not a throw", async () => {
    const log = captureLogger();
    const exec = createExecCollector({ commands: [cmd("missing", ["/nonexistent/vigil-probe"])] });
    expect(series(await exec.collect(commandContext(T0, log.logger)))).toEqual([
      'exec_success{"command":"missing"} 0',
    ]);
    expect(log.warnings()[0]?.msg).toContain("ENOENT");
  });
});
