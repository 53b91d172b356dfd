import { ConfigError, parseTomlText } from "@vigil/common";

/** Every agent key can be set by a variable named `VIGIL_AGENT__` + its dotted path in upper case, dots as `__`. */
export const AGENT_ENV_PREFIX = "VIGIL_AGENT__";

/** One `VIGIL_AGENT__…` variable, before its text is turned into a value. */
export interface EnvOverride {
  /** The variable's name, for error messages. */
  readonly variable: string;
  /** The key it sets, lower case: `VIGIL_AGENT__STREAM__FLUSH_INTERVAL` → `["stream", "flush_interval"]`. */
  readonly path: readonly string[];
  readonly text: string;
}

/**
 * The `VIGIL_AGENT__*` variables of `env`, sorted by name so the result does not depend on the
 * environment's order. Empty values are ignored (as for the server's `VIGIL_*` overrides), so
 * `VIGIL_AGENT__SERVER=` in a unit file means "use the config file".
 */
export function readEnvOverrides(env: NodeJS.ProcessEnv): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [variable, text] of Object.entries(env)) {
    if (!variable.startsWith(AGENT_ENV_PREFIX) || text === undefined || text === "") continue;
    const path = variable.slice(AGENT_ENV_PREFIX.length).toLowerCase().split("__");
    if (path.some((p) => p === ""))
      throw new ConfigError({
        file: "environment",
        key: variable,
        problem: "is not a key path: use VIGIL_AGENT__SECTION__KEY, one __ between parts",
      });
    out.push({ variable, path, text });
  }
  return out.sort((a, b) => (a.variable < b.variable ? -1 : a.variable > b.variable ? 1 : 0));
}

/**
 * The value an override's text stands for. Keys whose schema is a string (names, addresses,
 * durations, paths, log levels) take the text as it is; every other key reads it as a TOML value
 * (`100`, `true`, `["a", "b"]`, `{ env = "prod" }`), falling back to the text when it is not one,
 * so the schema's own message ("expected number, got the string …") explains the mistake.
 */
export function overrideValue(override: EnvOverride, schema: unknown): unknown {
  if (expectsString(schema, override.path)) return override.text;
  try {
    return parseTomlText(override.variable, `v = ${override.text}`).v;
  } catch {
    // Not a TOML value: keep the text, and let validation say what was expected.
    return override.text;
  }
}

/** Writes `value` at `path` in the parsed TOML data, creating tables on the way. */
export function applyOverride(data: Record<string, unknown>, override: EnvOverride, value: unknown): void {
  let table = data;
  for (const [i, part] of override.path.entries()) {
    if (i === override.path.length - 1) {
      table[part] = value;
      return;
    }
    const next = table[part];
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      table[part] = created;
      table = created;
    } else if (typeof next === "object" && next !== null && !Array.isArray(next)) {
      table = next as Record<string, unknown>;
    } else {
      throw new ConfigError({
        file: "environment",
        key: override.variable,
        problem: `${override.path.slice(0, i + 1).join(".")} is not a table, so it has no key ${override.path[i + 1]}`,
      });
    }
  }
}

const ENV_REF = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` in every string value (in tables and arrays, at any depth) with the
 * environment variable NAME, for secrets kept out of the file: `api_key = "${VIGIL_API_KEY}"`.
 * `$${NAME}` is the literal text `${NAME}`. An unset variable calls `missing` with the value's
 * key path and the variable's name (it should throw).
 */
export function expandEnvRefs(
  data: unknown,
  env: NodeJS.ProcessEnv,
  missing: (path: (string | number)[], variable: string) => never,
  path: (string | number)[] = [],
): unknown {
  if (typeof data === "string") {
    return data.replace(ENV_REF, (whole, escaped: string | undefined, name: string) => {
      if (escaped) return whole.slice(1);
      const value = env[name];
      return value ?? missing(path, name);
    });
  }
  if (Array.isArray(data)) return data.map((v, i) => expandEnvRefs(v, env, missing, [...path, i]));
  if (typeof data === "object" && data !== null && !(data instanceof Date)) {
    return Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, expandEnvRefs(v, env, missing, [...path, k])]),
    );
  }
  return data;
}

type ZodNode = {
  _zod?: {
    def?: {
      type?: string;
      shape?: Record<string, unknown>;
      innerType?: unknown;
      in?: unknown;
      valueType?: unknown;
    };
  };
};

/** Whether the schema at `path` accepts a string (a plain string, a duration, an enum …). */
function expectsString(schema: unknown, path: readonly string[]): boolean {
  let node = unwrap(schema);
  for (const part of path) {
    const def = node?._zod?.def;
    if (def?.shape && part in def.shape) node = unwrap(def.shape[part]);
    else if (def?.type === "record" && def.valueType) node = unwrap(def.valueType);
    else return false;
  }
  const type = node?._zod?.def?.type;
  return type === "string" || type === "enum";
}

function unwrap(node: unknown): ZodNode | undefined {
  let current = node as ZodNode | undefined;
  for (let i = 0; i < 8 && current?._zod?.def; i++) {
    const def = current._zod.def;
    if (def.innerType) current = def.innerType as ZodNode;
    else if (def.type === "pipe" && def.in) current = def.in as ZodNode;
    else break;
  }
  return current;
}
