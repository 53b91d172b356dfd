/** Bad command-line usage: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "usage";
}

export function isUsageError(value: unknown): value is UsageError {
  return value instanceof Error && value.name === "UsageError";
}
