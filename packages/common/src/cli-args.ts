import { type ParseArgsConfig, parseArgs } from "node:util";

type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>
>;

/** Bad command-line usage: a CLI prints the message with its usage text and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "usage";
}

export function isUsageError(value: unknown): value is UsageError {
  return value instanceof Error && value.name === "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `node:util` parseArgs in strict mode, with at most `maxPositionals` positionals; every problem
 * (unknown option, missing value, extra argument) becomes a UsageError quoting it.
 */
export function parseCliArgs<O extends Options>(
  argv: readonly string[],
  options: O,
  maxPositionals: number,
): Parsed<O> {
  try {
    const result = parseArgs({
      args: [...argv],
      options,
      allowPositionals: maxPositionals > 0,
      strict: true,
    });
    if (result.positionals.length > maxPositionals) {
      throw new UsageError(`unexpected argument "${result.positionals[maxPositionals]}"`);
    }
    return result;
  } catch (err) {
    if (isUsageError(err)) throw err;
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
