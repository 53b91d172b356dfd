import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const packages = [
  "common",
  "protocol",
  "collectors",
  "agent",
  "storage",
  "server",
  "alerts",
  "notify",
  "quickstart",
];

// Unit tests import sibling packages from source so they never test a stale build;
// end-to-end tests spawn the built binaries (`tsc -b` runs before `vitest run`).
const alias = Object.fromEntries(
  packages.map((name) => [
    `@vigil/${name}`,
    fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
  ]),
);

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["packages/*/src/**/*.test.ts", "bench/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default", "./vitest.summary-reporter.ts"],
  },
});
