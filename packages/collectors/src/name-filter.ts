import { Minimatch } from "minimatch";

/**
 * Include/exclude selection by minimatch globs, as the filesystem, diskio and network collectors'
 * `include_*` / `exclude_*` options mean it: a name is selected when it matches at least one
 * include pattern and no exclude pattern (exclude wins). Patterns match the whole name; `dot` is
 * on, so `*` also matches names starting with "." and `/mnt/**` reaches `/mnt/.snapshots`.
 */
export function createNameFilter(
  include: readonly string[],
  exclude: readonly string[],
): (name: string) => boolean {
  const inc = include.map((p) => new Minimatch(p, { dot: true }));
  const exc = exclude.map((p) => new Minimatch(p, { dot: true }));
  return (name) => inc.some((m) => m.match(name)) && !exc.some((m) => m.match(name));
}
