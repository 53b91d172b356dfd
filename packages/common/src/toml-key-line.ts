/**
 * Finds the 1-based line where a dotted key path is defined in TOML text, for error messages.
 * smol-toml gives values without positions, so this follows table headers and `key =` lines;
 * a key inside an inline table or array resolves to the nearest enclosing key or header found.
 * Numbers in the path index arrays of tables: `["alert", "rules", 1, "expr"]` is in the second `[[alert.rules]]`.
 * Returns undefined when nothing on the path is written in the file (a default, or an env override).
 */
export function findTomlKeyLine(source: string, path: readonly (string | number)[]): number | undefined {
  const lines = source.split(/\r?\n/);
  let table: (string | number)[] = [];
  let best: { line: number; depth: number } | undefined;
  // Arrays of tables (`[[a.b]]`): how many entries each has so far, keyed by its resolved path,
  // so `a.b[1].c` finds the second `[[a.b]]`, not the first.
  const arrayCounts = new Map<string, number>();
  const resolveTable = (parts: readonly string[]): (string | number)[] => {
    const out: (string | number)[] = [];
    for (const part of parts) {
      out.push(part);
      const count = arrayCounts.get(JSON.stringify(out));
      if (count !== undefined) out.push(count - 1);
    }
    return out;
  };
  const consider = (full: readonly (string | number)[], line: number) => {
    let depth = 0;
    while (depth < full.length && depth < path.length && full[depth] === path[depth]) depth++;
    // `full` is on the path (`[a]` for a.b), or defines all of it (`b.c = 1` in `[a]` defines a.b).
    const onPath = depth === full.length || depth === path.length;
    if (onPath && depth > 0 && (!best || depth > best.depth)) best = { line, depth };
  };
  // Inside a multi-line string (`"""` or `'''`), lines are text, not keys or headers.
  let openString: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (openString) {
      if (raw.includes(openString)) openString = undefined;
      continue;
    }
    const text = stripComment(raw).trim();
    if (text === "") continue;
    const arrayHeader = /^\[\[\s*(.+?)\s*\]\]$/.exec(text);
    const header = arrayHeader ?? /^\[\s*(.+?)\s*\]$/.exec(text);
    if (header) {
      const parts = splitDottedKey(header[1] as string);
      if (arrayHeader) {
        const base = [...resolveTable(parts.slice(0, -1)), ...parts.slice(-1)];
        const key = JSON.stringify(base);
        const count = (arrayCounts.get(key) ?? 0) + 1;
        arrayCounts.set(key, count);
        table = [...base, count - 1];
        consider(base, i + 1);
      } else {
        table = resolveTable(parts);
      }
      consider(table, i + 1);
      continue;
    }
    const eq = findAssignment(text);
    if (eq > 0) {
      consider([...table, ...splitDottedKey(text.slice(0, eq))], i + 1);
      openString = unclosedMultilineString(text.slice(eq + 1));
    }
  }
  return best?.line;
}

/** The delimiter of a multi-line string that starts this value and does not end on its line. */
function unclosedMultilineString(value: string): string | undefined {
  const trimmed = value.trimStart();
  for (const delimiter of ['"""', "'''"]) {
    if (trimmed.startsWith(delimiter) && !trimmed.slice(3).includes(delimiter)) return delimiter;
  }
  return undefined;
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

function findAssignment(text: string): number {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "=") return i;
  }
  return -1;
}

function splitDottedKey(key: string): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)/g;
  for (const m of key.matchAll(re)) {
    const part = m[1] ?? m[2] ?? m[3];
    if (part !== undefined) parts.push(part);
  }
  return parts;
}
