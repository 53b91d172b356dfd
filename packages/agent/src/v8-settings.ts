import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * V8 settings for an always-on agent that wakes once a second to do a little work. Measured with
 * bench/agent on the minified bundle (every default collector at 1 s, 60 s after a 10 s warm-up):
 *
 * - `--semi-space-growth-factor=1` keeps the young generation at its initial 1 MiB. V8 otherwise
 *   doubles it up to 16 MiB per semi-space while the agent loads, then holds it until a full GC
 *   shrinks it 15–20 s later: RSS peaked at 88–93 MiB and sat at ~67 MiB; with it, ~62 MiB flat.
 *   Scavenges of 1 MiB are cheap because almost nothing the agent allocates per tick survives.
 * - `--max-opt=1` stops at Sparkplug (baseline code) and never runs the optimising compilers.
 *   Once-a-second code gives TurboFan little to win and it kept compiling and deoptimising the
 *   per-tick paths on its background threads: CPU 1.70 % → 1.10 % of a core, and 4 MiB less RSS
 *   (TurboFan's own machine code in the node binary is never paged in).
 *
 * Both flags are read by V8 while it runs, so setting them before the agent's modules evaluate is
 * enough (bin/vigil-agent.js and the SEA entry import this module first). A flag the operator sets
 * on node's command line or in NODE_OPTIONS wins: `node --max-opt=4 vigil-agent.js` brings
 * TurboFan back.
 */
export const AGENT_V8_FLAGS: readonly string[] = ["--semi-space-growth-factor=1", "--max-opt=1"];

/** The flags of `AGENT_V8_FLAGS` that the operator did not set on the command line or in NODE_OPTIONS. */
export function agentV8FlagsToApply(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set<string>();
  for (const arg of [...execArgv, ...(nodeOptions ?? "").split(/\s+/)]) {
    const name = flagName(arg);
    if (name !== undefined) given.add(name);
  }
  return AGENT_V8_FLAGS.filter((flag) => !given.has(flagName(flag) ?? flag));
}

/** Applies the agent's V8 flags (see `AGENT_V8_FLAGS`) and returns the ones applied. */
export function applyAgentV8Settings(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): string[] {
  const flags = agentV8FlagsToApply(execArgv, nodeOptions);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}

/** `--max-opt=1` → "max-opt"; V8 treats `_` and `-` alike, so `--max_opt` is the same flag. */
function flagName(arg: string): string | undefined {
  if (!arg.startsWith("--")) return undefined;
  const name = arg.slice(2).split("=")[0] ?? "";
  return name === "" ? undefined : name.replaceAll("_", "-");
}

/** How long after start the one full GC runs: by then the config is parsed, every collector has run once and the stream is up. */
export const STARTUP_GC_DELAY_MS = 10_000;

/**
 * Runs ONE full, compacting garbage collection `delayMs` after start. Loading and starting leave
 * garbage in the old generation (parsed config, schemas, first-read buffers) that, with the young
 * generation kept small, V8 would not collect for minutes; and glibc keeps the memory freed during
 * loading until a free at the top of its heap lets it trim. Measured: ~2 MiB less V8 heap and, with
 * `AGENT_PROCESS_ENV`, ~5 MiB less malloc heap, for one ~10 ms pause. V8 exposes no full GC without
 * `--expose-gc`, so the flag is set now and `gc` taken from a fresh context (Node's documented
 * `v8.setFlagsFromString` use); both are dropped after the one call. The timer never keeps the
 * process alive. Returns a function that cancels it.
 */
export function scheduleStartupGc(delayMs: number = STARTUP_GC_DELAY_MS): () => void {
  const timer = setTimeout(() => {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    if (typeof gc === "function") gc();
  }, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}

/**
 * Environment the agent's service manager should start it with (deploy/systemd/vigil-agent.service,
 * Dockerfile.agent, `npm start`; a test keeps them equal). glibc raises its mmap threshold each time
 * a large block is freed, so the buffers of start-up (reading and compiling the bundle) end up in
 * the main heap, where fragments pin them: ~8 MiB of malloc heap, 3 MiB in use. A fixed 128 KiB
 * threshold keeps large blocks in their own mappings, returned when freed: RSS 62 → 57 MiB in
 * bench/agent. Only glibc reads it, and only at process start, so the agent cannot set it itself.
 */
export const AGENT_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };
