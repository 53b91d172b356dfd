import { readFileSync } from "node:fs";
import { join } from "node:path";
import { agentConfigSchema } from "@vigil/agent";
import { builtinCollectors, defaultOptions } from "@vigil/collectors";
import { serverConfigSchema } from "@vigil/server";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

/** Dotted keys of a zod strict-object schema, e.g. "server.data_dir" (records contribute their value's keys under "NAME"). */
function schemaKeys(schema: unknown, prefix = ""): string[] {
  type Node = {
    _zod?: {
      def?: {
        shape?: Record<string, unknown>;
        innerType?: unknown;
        in?: unknown;
        valueType?: unknown;
        type?: string;
      };
    };
  };
  let node = schema as Node;
  for (let i = 0; i < 8; i++) {
    const def = node._zod?.def;
    if (def?.innerType) node = def.innerType as Node;
    else if (def?.type === "pipe" && def.in) node = def.in as Node;
    else break;
  }
  const def = node._zod?.def;
  if (def?.shape) {
    return Object.entries(def.shape).flatMap(([k, v]) => {
      const sub = schemaKeys(v, `${prefix}${k}.`);
      return sub.length > 0 ? sub : [`${prefix}${k}`];
    });
  }
  if (def?.type === "record" && def.valueType) return schemaKeys(def.valueType, `${prefix}NAME.`);
  return [];
}

describe("documentation stays in step with the code", () => {
  it("docs/metrics.md lists every metric a built-in collector declares", () => {
    const doc = read("docs/metrics.md");
    const names = builtinCollectors().flatMap((r) => r.create(defaultOptions(r)).metrics.map((m) => m.name));
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(doc, name).toContain(`\`${name}\``);
  });

  it.each([
    ["server", serverConfigSchema, "config/server.example.toml"],
    ["agent", agentConfigSchema(), "config/agent.example.toml"],
  ] as const)(
    "docs/configuration.md and %s's example config describe every key",
    (_name, schema, example) => {
      const doc = read("docs/configuration.md");
      const sample = read(example);
      // enabled and interval are common to every collector and documented once, as collectors.NAME.*;
      // a collector's own options are documented by their full key, e.g. collectors.network.exclude.
      const keys = [
        ...new Set(
          schemaKeys(schema).map((k) =>
            k.replace(/^collectors\.[a-z_]+\.(enabled|interval)$/, "collectors.NAME.$1"),
          ),
        ),
      ];
      expect(keys.length).toBeGreaterThan(3);
      for (const key of keys) {
        expect(doc, key).toContain(`\`${key}\``);
        const leaf = key.split(".").pop() as string;
        expect(sample, `${example} shows ${key}`).toMatch(
          new RegExp(`^#?\\s*(${leaf}\\s*=|\\[${leaf}\\]|\\[\\[${key.replace(/\./g, "\\.")}\\]\\])`, "m"),
        );
      }
    },
  );
});
