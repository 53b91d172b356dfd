import type { Labels } from "@vigil/common";

/** What a label or annotation template can refer to. */
export interface TemplateContext {
  readonly agent: string;
  readonly value: number;
  readonly labels: Labels;
  readonly rule: string;
  readonly metric: string;
  readonly severity: string;
  readonly threshold: number | undefined;
}

/** A template compiled at rule load; rendering never throws. */
export type Template = (ctx: TemplateContext) => string;

/** The variables templates may use, for error messages and docs. */
export const TEMPLATE_VARIABLES = [
  "$agent",
  "$value",
  "$labels.<name>",
  "$rule",
  "$metric",
  "$severity",
  "$threshold",
] as const;

const PLACEHOLDER_RE = /\{\{(.*?)\}\}/gs;

type Part = string | ((ctx: TemplateContext) => string);

/**
 * Compiles `{{ $agent }} has {{ $value }}% on {{ $labels.mountpoint }}`. Throws an Error naming the
 * unknown variable (or the unclosed `{{`), so a bad template is rejected when the rule loads.
 */
export function compileTemplate(text: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER_RE)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(variable((m[1] as string).trim()));
    last = m.index + m[0].length;
  }
  const rest = text.slice(last);
  if (rest.includes("{{")) throw new Error(`unclosed "{{" in template ${JSON.stringify(text)}`);
  if (rest !== "") parts.push(rest);
  if (parts.every((p) => typeof p === "string")) {
    const constant = parts.join("");
    return () => constant;
  }
  return (ctx) => {
    let out = "";
    for (const p of parts) out += typeof p === "string" ? p : p(ctx);
    return out;
  };
}

function variable(name: string): (ctx: TemplateContext) => string {
  switch (name) {
    case "$agent":
      return (ctx) => ctx.agent;
    case "$value":
      return (ctx) => formatValue(ctx.value);
    case "$rule":
      return (ctx) => ctx.rule;
    case "$metric":
      return (ctx) => ctx.metric;
    case "$severity":
      return (ctx) => ctx.severity;
    case "$threshold":
      return (ctx) => (ctx.threshold === undefined ? "" : formatValue(ctx.threshold));
  }
  const label = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(name);
  if (label) {
    const key = label[1] as string;
    return (ctx) => ctx.labels[key] ?? "";
  }
  throw new Error(
    `unknown template variable ${JSON.stringify(name)} (known: ${TEMPLATE_VARIABLES.join(", ")})`,
  );
}

/** Integers as they are, other numbers to 6 significant digits (`97.1234567` → `97.1235`). */
export function formatValue(value: number): string {
  if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}
