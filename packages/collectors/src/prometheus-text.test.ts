import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeLabelValue, parsePrometheusText } from "./prometheus-text.js";

describe("parsePrometheusText", () => {
  it("reads HELP, TYPE, labels with escapes, timestamps and histogram lines", () => {
    const parsed = parsePrometheusText(
      [
        "# HELP backup_last_success_seconds Last good backup.\\nUnix seconds.",
        "# TYPE backup_last_success_seconds gauge",
        'backup_last_success_seconds{job="nightly",target="nas"} 1.7640396e+09',
        "# a plain comment",
        'odd_labels{path="C:\\\\tmp",quote="say \\"hi\\"",nl="a\\nb",} 3 1764040000123',
        "# TYPE rpc_seconds histogram",
        'rpc_seconds_bucket{le="0.5"} 10',
        'rpc_seconds_bucket{le="+Inf"} 12',
        "rpc_seconds_sum 4.25",
        "rpc_seconds_count 12",
        "  spaced   -0.5  ",
        "",
      ].join("\n"),
    );
    expect(parsed.issues).toEqual([]);
    expect(parsed.nonFinite).toBe(0);
    expect(parsed.types.get("backup_last_success_seconds")).toBe("gauge");
    expect(parsed.types.get("rpc_seconds")).toBe("histogram");
    expect(parsed.help.get("backup_last_success_seconds")).toBe("Last good backup.\nUnix seconds.");
    expect(parsed.samples).toEqual([
      {
        metric: "backup_last_success_seconds",
        labels: { job: "nightly", target: "nas" },
        value: 1764039600,
        timestampMs: undefined,
      },
      {
        metric: "odd_labels",
        labels: { path: "C:\\tmp", quote: 'say "hi"', nl: "a\nb" },
        value: 3,
        timestampMs: 1764040000123,
      },
      { metric: "rpc_seconds_bucket", labels: { le: "0.5" }, value: 10, timestampMs: undefined },
      { metric: "rpc_seconds_bucket", labels: { le: "+Inf" }, value: 12, timestampMs: undefined },
      { metric: "rpc_seconds_sum", labels: {}, value: 4.25, timestampMs: undefined },
      { metric: "rpc_seconds_count", labels: {}, value: 12, timestampMs: undefined },
      { metric: "spaced", labels: {}, value: -0.5, timestampMs: undefined },
    ]);
  });

  it("drops NaN and ±Inf, counting them", () => {
    const parsed = parsePrometheusText("a NaN\nb +Inf\nc -Inf\nd Inf\ne 1\n");
    expect(parsed.samples.map((s) => s.metric)).toEqual(["e"]);
    expect(parsed.nonFinite).toBe(4);
    expect(parsed.issues).toEqual([]);
  });

  it("skips each malformed line with its number and keeps the rest", () => {
    const parsed = parsePrometheusText(
      [
        "ok 1",
        "9bad 1",
        'x{a="1" 2',
        'x{a="1",a="2"} 2',
        'x{a="\\q"} 2',
        "x one",
        "x 1 2 3",
        "x 1 1.5",
        "# TYPE x gaugey",
        'x{a="unterminated} 1',
        "ok2 2",
      ].join("\n"),
    );
    expect(parsed.samples.map((s) => s.metric)).toEqual(["ok", "ok2"]);
    expect(parsed.issues.map((i) => i.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(parsed.issues[4]).toEqual({ line: 6, text: "x one", reason: '"one" is not a number' });
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parsePrometheusText(text)));
    const token = fc.constantFrom(
      "a",
      "{",
      "}",
      '"',
      "\\",
      "=",
      ",",
      " ",
      "1",
      "NaN",
      "#",
      "\n",
      "le",
      "+Inf",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => void parsePrometheusText(tokens.join(""))),
    );
  });

  it("reads back any sample it is given in text form (round trip)", () => {
    const name = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/);
    const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/);
    const sample = fc.record({
      metric: name,
      labels: fc.dictionary(labelName, fc.string(), { maxKeys: 4 }),
      value: fc.double({ noNaN: true, noDefaultInfinity: true }),
      timestampMs: fc.option(fc.integer({ min: -1e12, max: 1e13 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 10 }), (samples) => {
        const text = samples
          .map((s) => {
            const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
            const ts = s.timestampMs === undefined ? "" : ` ${s.timestampMs}`;
            return `${s.metric}{${labels.join(",")}} ${s.value}${ts}\n`;
          })
          .join("");
        const parsed = parsePrometheusText(text);
        expect(parsed.issues).toEqual([]);
        expect(parsed.samples).toEqual(
          samples.map((s) => ({ ...s, labels: { ...s.labels }, value: s.value === 0 ? 0 : s.value })),
        );
      }),
    );
  });
});
