import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { builtinCollectors } from "./builtin.js";
import {
  keptCatalogueTail,
  METRICS_CATALOGUE_HEADER,
  METRICS_CATALOGUE_KEPT_MARKER,
  renderMetricsCatalogue,
} from "./metrics-catalogue.js";

/** The repository's docs/metrics.md (from src/ and from dist/ alike: both sit two levels under packages/). */
const DOC = fileURLToPath(new URL("../../../docs/metrics.md", import.meta.url));

describe("renderMetricsCatalogue", () => {
  it("renders a section per collector, a row per metric, pipes escaped", () => {
    const doc = renderMetricsCatalogue([
      {
        name: "demo",
        defaultEnabled: false,
        defaultIntervalMs: 300_000,
        options: builtinCollectors()[0]?.options ?? (undefined as never),
        create: () => ({
          name: "demo",
          metrics: [
            {
              name: "demo_bytes",
              type: "gauge",
              unit: "bytes",
              help: "a | b",
              labels: ["path"],
              source: "du",
              nodeExporter: "x_bytes",
            },
            { name: "demo_count", type: "counter", unit: "1", help: "c", labels: [] },
          ],
          collect: async () => [],
        }),
      },
    ]);
    expect(doc.startsWith(METRICS_CATALOGUE_HEADER)).toBe(true);
    const lines = doc.split("\n");
    expect(lines).toContain("## demo");
    expect(lines).toContain(
      "Off by default (needs configuration), every 5 min unless `collectors.demo.interval` says otherwise.",
    );
    expect(lines.find((l) => l.startsWith("| `demo_bytes`"))?.replace(/ +/g, " ")).toBe(
      "| `demo_bytes` | gauge | bytes | `path` | du | `x_bytes` | a \\| b |",
    );
    expect(lines.find((l) => l.startsWith("| `demo_count`"))?.replace(/ +/g, " ")).toBe(
      "| `demo_count` | counter | 1 | — | — | — | c |",
    );
  });

  it("keeps the hand-written tail after its marker", () => {
    const tail = `${METRICS_CATALOGUE_KEPT_MARKER}\n\n## agent\n\nby hand\n`;
    expect(keptCatalogueTail(`# old\n\n${tail}`)).toBe(tail);
    expect(keptCatalogueTail("# no marker\n")).toBe("");
    const doc = renderMetricsCatalogue([], tail);
    expect(doc).toBe(`${METRICS_CATALOGUE_HEADER}\n\n\n${tail}`);
    expect(keptCatalogueTail(doc)).toBe(tail);
  });

  it("docs/metrics.md is what the built-in collectors declare", () => {
    const current = fs.existsSync(DOC) ? fs.readFileSync(DOC, "utf8") : "";
    const rendered = renderMetricsCatalogue(builtinCollectors(), keptCatalogueTail(current));
    if (process.env.UPDATE_DOCS === "1") {
      fs.writeFileSync(DOC, rendered);
      return;
    }
    if (current !== rendered) {
      expect.fail(
        "docs/metrics.md is stale: run `UPDATE_DOCS=1 npx vitest run packages/collectors/src/metrics-catalogue.test.ts`",
      );
    }
  });
});
