#!/usr/bin/env node
// Bundles the agent (after `tsc -b`) into one file, packages/agent/dist/vigil-agent.js, that runs
// with nothing but Node: `node vigil-agent.js --config /etc/vigil/agent.toml`.
// Usage: node packages/agent/scripts/bundle.mjs [OUTFILE]
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = resolve(process.argv[2] ?? resolve(here, "../dist/vigil-agent.js"));

// CommonJS dependencies (@grpc/grpc-js, pino) call require() and read __dirname, which an ES module
// does not have: the banner gives the bundle both.
// Its first line names the version: the server's update manifest reads it (agent-update-route.ts).
const { version } = JSON.parse(readFileSync(resolve(here, "../package.json"), "utf8"));
const banner = [
  `// vigil-agent ${version}`,
  'import { createRequire as __vigilCreateRequire } from "node:module";',
  'import { fileURLToPath as __vigilFileURLToPath } from "node:url";',
  'import { dirname as __vigilDirname } from "node:path";',
  "const require = __vigilCreateRequire(import.meta.url);",
  "const __filename = __vigilFileURLToPath(import.meta.url);",
  "const __dirname = __vigilDirname(__filename);",
].join("\n");

const result = await build({
  entryPoints: [resolve(here, "../bin/vigil-agent.js")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  banner: { js: banner },
  // version.ts reads ../package.json unless this is defined; next to the bundle there is none.
  define: { __VIGIL_AGENT_VERSION__: JSON.stringify(version) },
  legalComments: "none",
  // Smaller and ASCII-only, because V8 keeps a script's whole source in the heap for as long as it
  // runs: the unminified bundle held 2.3 MB, as two bytes a character once a comment or regex
  // carried a non-ASCII character (4.6 MB). Minified and ASCII it is ~0.6 MB at one byte a character
  // (with zod imported as a namespace, `import * as z`, so that its unused parts are dropped).
  // Error messages are unchanged (they are strings); stack traces name minified functions.
  minify: true,
  charset: "ascii",
  // grpc-js requires @grpc/proto-loader (and with it protobufjs, 0.4 MB) only inside the channelz
  // and ORCA services, which the agent never serves: left out of the bundle, never loaded.
  external: ["@grpc/proto-loader"],
  logLevel: "warning",
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`bundled ${outfile} (${(bytes / 1024 / 1024).toFixed(1)} MiB)\n`);
