import { Minimatch } from "minimatch";

/** Matches agent ids against a rule's `agents` glob (minimatch syntax: `web-*`, `db-[0-9]`, `{a,b}-*`). */
export type AgentMatcher = (agentId: string) => boolean;

const ALLOWED_RE = /^[A-Za-z0-9._\-*?[\]{},!^]+$/;

/**
 * Compiles an `agents` glob. Throws an Error saying what is wrong with it: empty, characters an
 * agent id can never contain (such as "/" or spaces), or an unclosed `[` or `{`.
 */
export function compileAgentGlob(glob: string): AgentMatcher {
  if (glob === "*") return () => true;
  if (glob === "") throw new Error('is empty (use "*" for every agent)');
  if (!ALLOWED_RE.test(glob)) {
    throw new Error(
      `"${glob}" has characters no agent id contains (agent ids are letters, digits, ".", "_", "-")`,
    );
  }
  let brackets = 0;
  let braces = 0;
  for (const c of glob) {
    if (c === "[") brackets++;
    else if (c === "]") brackets = Math.max(0, brackets - 1);
    else if (c === "{") braces++;
    else if (c === "}") braces--;
    if (braces < 0) throw new Error(`"${glob}" has a "}" without its "{"`);
  }
  if (brackets > 0) throw new Error(`"${glob}" has an unclosed "["`);
  if (braces > 0) throw new Error(`"${glob}" has an unclosed "{"`);
  const mm = new Minimatch(glob, { dot: true, nocomment: true });
  return (agentId) => mm.match(agentId);
}
