/**
 * Finds the 1-based line where a dotted key path is defined in TOML text, for error messages.
 * smol-toml gives values without positions, so this follows table headers and `key =` lines;
 * a key inside an inline table or array resolves to the nearest enclosing key or header found.
 * Returns undefined when nothing on the path is written in the file (a default, or an env override).
 */
export function findTomlKeyLine(source: string, path: readonly (string | number)[]): number | undefined {
  const want = path.filter((p): p is string => typeof p === "string");
  const lines = source.split(/\r?\n/);
  let table: string[] = [];
  let best: { line: number; depth: number } | undefined;
  const consider = (full: string[], line: number) => {
    let depth = 0;
    while (depth < full.length && depth < want.length && full[depth] === want[depth]) depth++;
    if (depth === full.length && depth > 0 && (!best || depth > best.depth)) best = { line, depth };
  };
  for (let i = 0; i < lines.length; i++) {
    const text = stripComment(lines[i] as string).trim();
    if (text === "") continue;
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(text);
    if (header) {
      table = splitDottedKey(header[1] as string);
      consider(table, i + 1);
      continue;
    }
    const eq = findAssignment(text);
    if (eq > 0) consider([...table, ...splitDottedKey(text.slice(0, eq))], i + 1);
  }
  return best?.line;
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
