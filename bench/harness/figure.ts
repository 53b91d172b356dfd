/**
 * One benchmark figure, printed as one JSON line on stdout (the Contract in ARCHITECTURE.md).
 * `name` is `<benchmark>.<what>`; further fields say what was measured (shape, samples, seconds, ...).
 */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly [field: string]: string | number | boolean;
}

/** Prints a figure to stdout. Nothing else goes to stdout. */
export function emitFigure(figure: Figure): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/** Progress and diagnostics go to stderr, prefixed with the benchmark's name. */
export function logProgress(benchmark: string, message: string): void {
  process.stderr.write(`bench ${benchmark}: ${message}\n`);
}

/** Rounds to `digits` significant digits, so figures do not pretend to more precision than they have. */
export function significant(value: number, digits = 4): number {
  return Number(value.toPrecision(digits));
}
