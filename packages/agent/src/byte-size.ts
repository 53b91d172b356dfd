import * as z from "zod";

/** Size units a config may use, in bytes: binary (KiB = 1024) and decimal (KB = 1000). */
const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;

/** The message that ends every size error, so each one says what is accepted. */
const SIZE_HINT = `a whole number of bytes, or a number with a unit (${Object.keys(UNITS).join(", ")}), e.g. "256MiB"`;

/**
 * Parses a size: `"256MiB"`, `"1.5 GiB"`, `"500MB"`, `"65536"` or `"65536B"`. Units are case-sensitive
 * (`KiB` = 1024 bytes, `KB` = 1000). Throws an Error saying what is wrong and what is accepted: an
 * unknown unit, no number, or a size that is not a whole number of bytes.
 */
export function parseByteSize(text: string): number {
  const match = SIZE_RE.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a size: expected ${SIZE_HINT}`);
  const [, amount = "", unit = ""] = match;
  const factor = UNITS[unit === "" ? "B" : unit];
  if (factor === undefined) {
    const hint = Object.keys(UNITS).find((u) => u.toLowerCase() === unit.toLowerCase());
    throw new Error(
      `"${text}": unknown unit "${unit}"${hint ? ` (did you mean "${hint}"? units are case-sensitive)` : ""}; expected ${SIZE_HINT}`,
    );
  }
  const bytes = Number(amount) * factor;
  if (!Number.isSafeInteger(bytes))
    throw new Error(`"${text}" is ${bytes} bytes, not a whole number of bytes; expected ${SIZE_HINT}`);
  return bytes;
}

/** Formats bytes for messages: `268435456 (256 MiB)`. */
export function describeBytes(bytes: number): string {
  for (const unit of ["TiB", "GiB", "MiB", "KiB"]) {
    const factor = UNITS[unit] ?? 1;
    if (bytes >= factor && bytes % factor === 0) return `${bytes} (${bytes / factor} ${unit})`;
  }
  return String(bytes);
}

/**
 * A config size in bytes: a TOML integer, or a string `parseByteSize` reads (`"256MiB"`), within
 * `min`..`max` bytes. Every problem is one message naming the value and what is accepted.
 */
export function zByteSize(opts: { min: number; max: number }) {
  return z.unknown().transform((value, ctx): number => {
    let bytes: number;
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        ctx.addIssue({
          code: "custom",
          message: `${value} is not a whole number of bytes; expected ${SIZE_HINT}`,
        });
        return z.NEVER;
      }
      bytes = value;
    } else if (typeof value === "string") {
      try {
        bytes = parseByteSize(value);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    } else {
      ctx.addIssue({ code: "custom", message: `expected ${SIZE_HINT}, got ${typeof value}` });
      return z.NEVER;
    }
    if (bytes < opts.min || bytes > opts.max) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is ${bytes} bytes, outside ${describeBytes(opts.min)} – ${describeBytes(opts.max)} bytes`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}
