import { readFileSync } from "node:fs";
import { parse as parseToml, TomlError } from "smol-toml";
import type * as z from "zod";
import { ConfigError } from "./config-error.js";
import { findTomlKeyLine } from "./toml-key-line.js";

/** Reads a TOML file; throws ConfigError naming the file (and line for syntax errors). */
export function readTomlFile(file: string): { source: string; data: Record<string, unknown> } {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError({ file, problem: `cannot read the file (${reason})` });
  }
  return { source, data: parseTomlText(file, source) };
}

/** Parses TOML text; syntax errors become a ConfigError with the line smol-toml reports. */
export function parseTomlText(file: string, source: string): Record<string, unknown> {
  try {
    return parseToml(source) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = err.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? err.message;
      throw new ConfigError({ file, line: err.line, problem: `TOML syntax error: ${firstLine}` });
    }
    throw err;
  }
}

/**
 * Validates parsed TOML against a zod schema. The first issue becomes a ConfigError that names
 * the file, the line the key is written on, and the dotted key (`collectors.cpu.intervall`).
 */
export function validateConfig<S extends z.ZodType>(
  file: string,
  source: string,
  data: unknown,
  schema: S,
): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ConfigError({ file, problem: "invalid configuration" });
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const key = [...path, issue.keys[0] ?? ""].join(".");
    const fullPath = [...path, issue.keys[0] ?? ""];
    return throwAt(file, source, fullPath, key, `unknown key (allowed here: ${allowedKeys(schema, path)})`);
  }
  const key = path.length > 0 ? path.join(".") : undefined;
  return throwAt(file, source, path, key, describeIssue(issue));
}

function throwAt(
  file: string,
  source: string,
  path: (string | number)[],
  key: string | undefined,
  problem: string,
): never {
  throw new ConfigError({ file, line: findTomlKeyLine(source, path), key, problem });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    if (issue.input === undefined) return `is required (expected ${issue.expected})`;
    return `expected ${issue.expected}, got ${describeValue(issue.input)}`;
  }
  return issue.message;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "a table";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Lists the keys a strict object schema accepts at `path`, for "unknown key" messages. */
function allowedKeys(schema: z.ZodType, path: readonly (string | number)[]): string {
  let node: unknown = schema;
  for (const part of path) {
    const shape = objectShape(node);
    if (shape && typeof part === "string" && part in shape) node = shape[part];
    else {
      const catchall = unwrap(node) as { _zod?: { def?: { catchall?: unknown; valueType?: unknown } } };
      node = catchall?._zod?.def?.valueType ?? catchall?._zod?.def?.catchall;
      if (!node) return "?";
    }
  }
  const shape = objectShape(node);
  return shape ? Object.keys(shape).join(", ") : "?";
}

function unwrap(node: unknown): unknown {
  let current = node as { _zod?: { def?: { innerType?: unknown; in?: unknown; type?: string } } } | undefined;
  for (let i = 0; i < 8 && current?._zod?.def; i++) {
    const def = current._zod.def;
    if (def.innerType) current = def.innerType as typeof current;
    else if (def.type === "pipe" && def.in) current = def.in as typeof current;
    else break;
  }
  return current;
}

function objectShape(node: unknown): Record<string, unknown> | undefined {
  const inner = unwrap(node) as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined;
  return inner?._zod?.def?.shape;
}
