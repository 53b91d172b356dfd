import type { ParseIssue } from "./proc-text.js";
import type { ProcFs } from "./procfs.js";
import { isProcReadError } from "./procfs.js";
import type { CollectProblem } from "./warning-latch.js";

/**
 * Reads `relPath`, or records why not and returns undefined: collectors must not throw, and the
 * warning has to name the file and the fix. `lost` says what goes missing, e.g. "cpu metrics".
 */
export function readProcFile(
  proc: ProcFs,
  relPath: string,
  lost: string,
  problems: CollectProblem[],
): string | undefined {
  try {
    return proc.read(relPath);
  } catch (error: unknown) {
    const path = isProcReadError(error) ? error.path : proc.pathOf(relPath);
    const code = isProcReadError(error) ? error.code : "EUNKNOWN";
    problems.push({
      key: `read:${relPath}:${code}`,
      message: `cannot read ${path} (${code}), so ${lost} are not collected: ${fixFor(code)}`,
      details: { file: path, code, error: error instanceof Error ? error.message : String(error) },
    });
    return undefined;
  }
}

/** One problem for all the lines a parser skipped in `relPath`. */
export function parseIssuesProblem(
  proc: ProcFs,
  relPath: string,
  issues: readonly ParseIssue[],
  consequence: string,
): CollectProblem {
  const path = proc.pathOf(relPath);
  const first = issues[0];
  const example = first ? ` (line ${first.line} "${first.text}": ${first.reason})` : "";
  return {
    key: `parse:${relPath}`,
    message:
      `skipped ${issues.length} malformed line(s) in ${path}${example}; ${consequence}. ` +
      "If this repeats, the file is truncated or in a format Vigil does not know: report it with the file attached",
    details: { file: path, issues },
  };
}

function fixFor(code: string): string {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return "check that the agent's procfs root points at a mounted procfs (in a container, bind-mount the host's)";
    case "EACCES":
    case "EPERM":
      return "run the agent as a user allowed to read it, or relax the procfs mount's hidepid/permissions";
    default:
      return "check the agent's procfs root setting and the kernel log";
  }
}
