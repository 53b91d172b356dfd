import {
  type AlertStore,
  type PersistedAlert,
  RULE_KINDS,
  type RuleKind,
  SEVERITIES,
  type Severity,
} from "@vigil/alerts";
import type { Logger } from "@vigil/common";
import type { Catalog } from "@vigil/storage";

/**
 * The alert engine's store over the catalog's alert tables (`vigil.db`). A saved row with a kind or
 * severity this server does not know (written by a newer one) is skipped with a warning rather than
 * restored wrongly.
 */
export function catalogAlertStore(catalog: Catalog, logger: Logger): AlertStore {
  return {
    loadActive: () => {
      const out: PersistedAlert[] = [];
      for (const row of catalog.alerts.loadStates()) {
        if (!isKind(row.kind) || !isSeverity(row.severity)) {
          logger.warn(
            { fingerprint: row.fingerprint, kind: row.kind, severity: row.severity },
            "saved alert has an unknown kind or severity; not restored",
          );
          continue;
        }
        out.push({ ...row, kind: row.kind, severity: row.severity });
      }
      return out;
    },
    save: (changes) => catalog.alerts.save(changes),
  };
}

function isKind(kind: string): kind is RuleKind {
  return (RULE_KINDS as readonly string[]).includes(kind);
}

function isSeverity(severity: string): severity is Severity {
  return (SEVERITIES as readonly string[]).includes(severity);
}
