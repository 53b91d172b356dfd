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
 * (unknown option, missing value, extra argument) becomes a UsageError quoting it. A string option
 * may take a value that starts with a dash and a digit (`--from -7d`, `--offset -5`): parseArgs alone
 * calls that ambiguous, but no option of ours is a dash and a digit, so it is the option's value.
 */
export function parseCliArgs<O extends Options>(
  argv: readonly string[],
  options: O,
  maxPositionals: number,
): Parsed<O> {
  try {
    const result = parseArgs({
      args: joinDashDigitValues(argv, options),
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

/** `--name -7d` → `--name=-7d` for string options, so parseArgs reads the value. */
function joinDashDigitValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}
