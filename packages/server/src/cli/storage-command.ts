import { parseCliArgs, UsageError } from "@vigil/common";
import { checkStorage } from "@vigil/storage";
import { loadServerConfig } from "../config.js";
import type { CliIo } from "./main.js";

/**
 * `vigil-server storage check [--config FILE] [--quick]`: `PRAGMA integrity_check` (`quick_check` with
 * `--quick`) on vigil.db, rollups.db and every day file; one line per file, then a summary. Exit 0 when
 * every file is ok, 1 when any fails. Safe while the server runs (read-only connections).
 */
export function storageCommand(argv: readonly string[], io: CliIo): number {
  const [sub, ...rest] = argv;
  if (sub !== "check") throw new UsageError(`unknown storage command "${sub ?? ""}" (expected "check")`);
  const { values } = parseCliArgs(rest, { config: { type: "string" }, quick: { type: "boolean" } }, 0);
  const config = loadServerConfig(values.config, io.env, io.cwd);
  const results = checkStorage(config.dataDir, { quick: values.quick ?? false });
  // One line per file: SQLite's messages can span lines.
  for (const r of results) {
    io.stdout.write(
      r.ok
        ? `ok    ${r.path}\n`
        : `FAIL  ${r.path}: ${r.problems.map((p) => p.replace(/\s*\n\s*/g, " ")).join("; ")}\n`,
    );
  }
  const bad = results.filter((r) => !r.ok).length;
  const check = values.quick ? "quick_check" : "integrity_check";
  io.stdout.write(
    bad === 0
      ? `${results.length} file${results.length === 1 ? "" : "s"} in ${config.dataDir} passed ${check}\n`
      : `${bad} of ${results.length} files in ${config.dataDir} failed ${check}\n`,
  );
  return bad === 0 ? 0 : 1;
}
