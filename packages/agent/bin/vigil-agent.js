#!/usr/bin/env node
// First, so V8's settings are in place before the rest of the agent loads (src/v8-settings.ts).
import "../dist/apply-v8-settings.js";
import { main } from "../dist/cli/main.js";

process.exit(
  await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }),
);
