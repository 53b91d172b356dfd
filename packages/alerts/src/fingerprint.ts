import { createHash } from "node:crypto";
import type { Labels } from "@vigil/common";

/**
 * A stable alert identity: 16 hex digits of SHA-256 over the rule name and the alert's labels sorted
 * by name. The same rule and labels give the same fingerprint across restarts and reloads.
 */
export function alertFingerprint(ruleName: string, labels: Labels): string {
  const h = createHash("sha256");
  h.update(ruleName);
  for (const key of Object.keys(labels).sort()) {
    h.update("\u0000");
    h.update(key);
    h.update("\u0001");
    h.update(labels[key] as string);
  }
  return h.digest("hex").slice(0, 16);
}
