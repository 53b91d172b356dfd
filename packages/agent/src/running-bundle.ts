import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The single-file bundle this process runs from, or undefined when it runs from anything else (the
 * workspace's `bin/vigil-agent.js` and `dist/`, a test). In the bundle every module's
 * `import.meta.url` is the bundle file itself, so it is the bundle exactly when that file is the
 * script Node was started with (`process.argv[1]`), links resolved.
 */
export function runningBundlePath(script: string | undefined, moduleUrl: string): string | undefined {
  if (script === undefined || !moduleUrl.startsWith("file:")) return undefined;
  try {
    const self = realpathSync(fileURLToPath(moduleUrl));
    return realpathSync(script) === self ? self : undefined;
  } catch {
    // The script path does not resolve (deleted, or not a file): not something we may replace.
    return undefined;
  }
}
