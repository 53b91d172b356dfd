import type { AgentSettings } from "@vigil/alerts";
import { AGENT_ID_RE, AGENT_ID_RULE } from "@vigil/common";
import { z } from "zod";

const RFC3339_UTC_OR_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** A point in time: an RFC 3339 string, or a TOML offset date-time (which smol-toml gives as a Date). */
const zInstantMs = z.union([z.date(), z.string()]).transform((v, ctx) => {
  const ms = v instanceof Date ? v.getTime() : RFC3339_UTC_OR_OFFSET.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: "custom",
      message: `must be an RFC 3339 time with a zone, e.g. "2026-11-25T02:00:00Z", not ${JSON.stringify(String(v))}`,
    });
    return z.NEVER;
  }
  return ms;
});

const maintenanceWindow = z
  .strictObject({ start: zInstantMs, end: zInstantMs })
  .refine((w) => w.end > w.start, { message: "end must be after start", path: ["end"] });

/**
 * `[agents."ID"]`: per-agent alerting settings. `expected_offline` suppresses offline alerts always
 * (machines that power down by design); `maintenance` windows suppress them during each window.
 */
export const agentsSection = z
  .record(
    z.string(),
    z.strictObject({
      expected_offline: z.boolean().default(false),
      maintenance: z.array(maintenanceWindow).default([]),
    }),
  )
  .superRefine((section, ctx) => {
    for (const id of Object.keys(section)) {
      if (!AGENT_ID_RE.test(id))
        ctx.addIssue({ code: "custom", path: [id], message: `"${id}" is not an agent id: ${AGENT_ID_RULE}` });
    }
  });

/** The validated section as the engine takes it. */
export function agentSettingsFrom(section: z.output<typeof agentsSection>): Map<string, AgentSettings> {
  const out = new Map<string, AgentSettings>();
  for (const [id, s] of Object.entries(section)) {
    out.set(id, {
      expectedOffline: s.expected_offline,
      maintenance: s.maintenance.map((w) => ({ startMs: w.start, endMs: w.end })),
    });
  }
  return out;
}
