#!/usr/bin/env node
// @ts-check
// Builds packages/agent/dist/vigil-agent, the agent as a Node single executable application (SEA):
// this machine's `node` binary with the agent, bundled as CommonJS, injected by postject
// (https://nodejs.org/api/single-executable-applications.html). Runs after bundle.mjs in
// `npm run build`. Where a SEA cannot be made (not Linux, a node without the SEA fuse, postject not
// installed), it says why on stderr and exits 0: the SEA is an extra, never a reason to fail the build.
// Usage: node packages/agent/scripts/sea.mjs [OUTFILE]
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = resolve(process.argv[2] ?? resolve(here, "../dist/vigil-agent"));
const work = join(dirname(outfile), "sea");
/** The fuse Node's SEA support looks for; postject flips its last character to mark a blob present. */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const { version } = JSON.parse(readFileSync(resolve(here, "../package.json"), "utf8"));

/**
 * @param {string} reason
 * @returns {never}
 */
function skip(reason) {
  process.stderr.write(`vigil-agent SEA: skipped: ${reason}\n`);
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

if (process.platform !== "linux") skip(`only set up for Linux (this is ${process.platform})`);
const [major] = process.versions.node.split(".").map(Number);
if ((major ?? 0) < 20)
  skip(`node ${process.versions.node} has no --experimental-sea-config (needs 20 or later)`);
if (!readFileSync(process.execPath).includes(`${SEA_FUSE}:0`))
  skip(`${process.execPath} has no unused SEA fuse (a node built without SEA support, or itself a SEA)`);
/** postject's command line, run as a child so its known-harmless LIEF warnings can be dropped. */
let postjectCli;
try {
  postjectCli = createRequire(import.meta.url).resolve("postject/dist/cli.js");
} catch {
  skip("postject is not installed (it is a devDependency of @vigil/agent: run npm ci)");
}

mkdirSync(work, { recursive: true });
const script = join(work, "vigil-agent.cjs");
// SEA runs one CommonJS script (Node 20), so the agent is bundled again as CommonJS, from an entry
// without bin/vigil-agent.js's top-level await. import.meta.url is empty there: the self-update finds
// no bundle file to replace and says so, which is right, since the executable is not a bundle.
await build({
  stdin: {
    contents: [
      'import "../dist/apply-v8-settings.js";',
      'import { main } from "../dist/cli/main.js";',
      "main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(",
      "  (code) => process.exit(code),",
      ");",
    ].join("\n"),
    resolveDir: here,
    sourcefile: "sea-entry.js",
  },
  outfile: script,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  define: { __VIGIL_AGENT_VERSION__: JSON.stringify(version), "import.meta.url": '""' },
  legalComments: "none",
  // As in bundle.mjs, and for the same reasons (memory).
  minify: true,
  charset: "ascii",
  external: ["@grpc/proto-loader"],
  logLevel: "error",
});

const blob = join(work, "sea-prep.blob");
const config = join(work, "sea-config.json");
writeFileSync(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true }));
const prepared = spawnSync(process.execPath, ["--experimental-sea-config", config], { encoding: "utf8" });
if (prepared.status !== 0) skip(`node --experimental-sea-config failed: ${prepared.stderr.trim()}`);

const temp = `${outfile}.tmp`;
copyFileSync(process.execPath, temp);
chmodSync(temp, 0o755);
const injected = spawnSync(
  process.execPath,
  [postjectCli, temp, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE],
  { encoding: "utf8" },
);
// LIEF warns about section names it cannot map back (".note.100"); postject's own issue, harmless.
const noise = /^warning: Can't find string offset for section name/;
const problems = `${injected.stderr}`
  .split("\n")
  .filter((line) => line.trim() !== "" && !noise.test(line))
  .join("\n");
if (injected.status !== 0) {
  rmSync(temp, { force: true });
  skip(`postject failed (exit ${injected.status}): ${problems}`);
}
if (problems !== "") process.stderr.write(`${problems}\n`);
// A SEA that cannot say its version is not shipped.
const check = spawnSync(temp, ["--version"], { encoding: "utf8" });
if (check.status !== 0 || check.stdout.trim() !== version) {
  rmSync(temp, { force: true });
  skip(`the built executable does not run (--version: exit ${check.status}, ${check.stderr.trim()})`);
}
renameSync(temp, outfile);
rmSync(work, { recursive: true, force: true });
process.stdout.write(`built ${outfile} (single executable, node ${process.versions.node}, ${version})\n`);
