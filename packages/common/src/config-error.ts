/** A configuration problem, located as precisely as we can: file, line and dotted key. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "invalid_config";
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  readonly problem: string;

  constructor(opts: { file: string; line?: number | undefined; key?: string | undefined; problem: string }) {
    const where = opts.line === undefined ? opts.file : `${opts.file}:${opts.line}`;
    super(opts.key ? `${where}: ${opts.key}: ${opts.problem}` : `${where}: ${opts.problem}`);
    this.file = opts.file;
    this.line = opts.line;
    this.key = opts.key;
    this.problem = opts.problem;
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof Error && value.name === "ConfigError" && "problem" in value;
}
