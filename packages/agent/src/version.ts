import { readFileSync } from "node:fs";

/** Set by the bundler (packages/agent/scripts/bundle.mjs): the bundle has no package.json beside it. */
declare const __VIGIL_AGENT_VERSION__: string | undefined;

/** The agent's version, from its package.json (read once at start), or as the bundle was built. */
export const AGENT_VERSION: string =
  typeof __VIGIL_AGENT_VERSION__ === "string"
    ? __VIGIL_AGENT_VERSION__
    : (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
        .version;
