import path from "node:path";
import { pathToFileURL } from "node:url";
import { METRIC_NAME_RE } from "@vigil/common";
import type { Collector, CollectorOptions, CollectorRegistration } from "./collector.js";
import { NO_OPTIONS } from "./define-collector.js";

/** Why a collector module could not be loaded. */
export class CollectorModuleError extends Error {
  readonly code = "COLLECTOR_MODULE";
  readonly modulePath: string;
  constructor(modulePath: string, problem: string, options?: { cause?: unknown }) {
    super(`collector module ${modulePath}: ${problem}`, options);
    this.name = "CollectorModuleError";
    this.modulePath = modulePath;
  }
}

export function isCollectorModuleError(error: unknown): error is CollectorModuleError {
  return error instanceof Error && (error as { code?: unknown }).code === "COLLECTOR_MODULE";
}

const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Loads a third-party collector from a JS module (ESM) at an absolute path. The module's default
 * export must be
 *
 * ```js
 * export default {
 *   name: "redis",                   // [collectors.redis] in the agent config; a-z, 0-9, _
 *   defaultEnabled: true,            // optional, default true
 *   defaultIntervalMs: 10000,        // optional, default 10 s
 *   options: z.strictObject({...}),  // optional: a zod schema of the section's own keys, with defaults
 *   create(options) { return { name: "redis", metrics: [...], async collect(ctx) { return [...] } } },
 * };
 * ```
 *
 * `create` is checked once at load (called with the schema's defaults) so a broken plugin fails
 * when the agent starts, not on its first tick. Throws CollectorModuleError naming the path and
 * what is wrong.
 */
export async function loadCollectorModule(modulePath: string): Promise<CollectorRegistration> {
  if (!path.isAbsolute(modulePath)) throw new CollectorModuleError(modulePath, "the path must be absolute");
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(modulePath).href)) as { default?: unknown };
  } catch (error: unknown) {
    throw new CollectorModuleError(
      modulePath,
      `cannot import it (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
  const def = mod.default;
  const fail = (problem: string): never => {
    throw new CollectorModuleError(modulePath, problem);
  };
  if (typeof def !== "object" || def === null) return fail("has no default export object { name, create }");
  const d = def as Record<string, unknown>;
  if (typeof d.name !== "string" || !NAME_RE.test(d.name))
    return fail(
      `default export's name must be 1–64 of a-z, 0-9, _ starting with a letter (got ${JSON.stringify(d.name)})`,
    );
  if (typeof d.create !== "function")
    return fail("default export's create must be a function (options) => Collector");
  if (d.defaultEnabled !== undefined && typeof d.defaultEnabled !== "boolean")
    return fail("defaultEnabled must be a boolean");
  if (
    d.defaultIntervalMs !== undefined &&
    (typeof d.defaultIntervalMs !== "number" ||
      !Number.isInteger(d.defaultIntervalMs) ||
      d.defaultIntervalMs < 100)
  )
    return fail("defaultIntervalMs must be an integer of at least 100");
  const options = d.options ?? NO_OPTIONS;
  const schema = options as { parse?: unknown; shape?: unknown; _zod?: { def?: { type?: string } } };
  if (typeof schema.parse !== "function" || schema._zod?.def?.type !== "object")
    return fail("options must be a zod object schema (z.strictObject({...}))");

  const name = d.name;
  const create = d.create as (options: CollectorOptions) => unknown;
  const registration: CollectorRegistration = {
    name,
    defaultEnabled: (d.defaultEnabled as boolean | undefined) ?? true,
    defaultIntervalMs: (d.defaultIntervalMs as number | undefined) ?? 10_000,
    options: options as CollectorRegistration["options"],
    create: (opts) => checkCollector(modulePath, name, create(opts)),
  };
  let defaults: CollectorOptions;
  try {
    defaults = registration.options.parse({}) as CollectorOptions;
  } catch (error: unknown) {
    return fail(
      `its options schema rejects an empty section; give every key a default (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  try {
    registration.create(defaults);
  } catch (error: unknown) {
    if (isCollectorModuleError(error)) throw error;
    return fail(
      `create() threw with the default options: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return registration;
}

/** What `create` returned, checked to be a Collector named as registered, declaring valid metric names. */
function checkCollector(modulePath: string, name: string, value: unknown): Collector {
  const c = value as Partial<Collector> | null;
  const fail = (problem: string): never => {
    throw new CollectorModuleError(modulePath, problem);
  };
  if (typeof c !== "object" || c === null) return fail("create() did not return an object");
  if (c.name !== name)
    return fail(`create() returned a collector named ${JSON.stringify(c.name)}, not "${name}"`);
  if (typeof c.collect !== "function") return fail("the collector has no collect(ctx) function");
  if (!Array.isArray(c.metrics)) return fail("the collector's metrics must be an array of descriptors");
  for (const m of c.metrics as unknown[]) {
    const metric = m as { name?: unknown; type?: unknown };
    if (typeof metric.name !== "string" || !METRIC_NAME_RE.test(metric.name))
      return fail(`metric name ${JSON.stringify(metric.name)} does not follow the Prometheus rules`);
    if (metric.type !== "gauge" && metric.type !== "counter")
      return fail(`metric ${metric.name}: type must be gauge or counter`);
  }
  return c as Collector;
}
