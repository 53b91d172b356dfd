/** Pieces every procfs text parser shares: skipped-line issues, line splitting, kernel counters. */

/**
 * A line a parser skipped because it was malformed. Parsers return these instead of throwing,
 * so one bad line costs one value, not the whole reading; the collector names the file when it
 * logs them.
 */
export interface ParseIssue {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The offending text, cut to {@link MAX_ISSUE_TEXT} characters. */
  readonly text: string;
  readonly reason: string;
}

/** Long lines (the `intr` line has thousands of fields) are cut in issues so a warning stays readable. */
export const MAX_ISSUE_TEXT = 80;

/** Makes a {@link ParseIssue}, cutting `text` to a readable length. */
export function parseIssue(line: number, text: string, reason: string): ParseIssue {
  return { line, text: text.length > MAX_ISSUE_TEXT ? `${text.slice(0, MAX_ISSUE_TEXT)}…` : text, reason };
}

/**
 * Splits a procfs file into lines. The kernel ends every line with `\n`, so text that does not
 * is a truncated read: its last line may have lost digits (`46959` read as `469`) and is dropped
 * with an issue rather than trusted.
 */
export function completeLines(text: string): { lines: string[]; issues: ParseIssue[] } {
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  if (last === "") return { lines, issues: [] };
  return { lines, issues: [parseIssue(lines.length + 1, last, "file ends mid-line (truncated read)")] };
}

/** A decimal counter the kernel prints, or undefined when `token` is not one (or too big to be exact). */
export function parseCount(token: string | undefined): number | undefined {
  if (token === undefined || !/^\d+$/.test(token)) return undefined;
  const value = Number(token);
  return Number.isSafeInteger(value) ? value : undefined;
}
