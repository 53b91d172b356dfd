import { LABEL_NAME_RE, type Labels, METRIC_NAME_RE } from "@vigil/common";

/** The four Prometheus label matcher operators. */
export type MatchOp = "=" | "!=" | "=~" | "!~";

/**
 * One label matcher, compiled: regexes are anchored like Prometheus (`^(?:re)$`) and built once.
 * A label the series does not have reads as "".
 */
export interface CompiledMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  /** Set for `=~` and `!~`. */
  readonly re: RegExp | undefined;
}

/** A metric name and its label matchers, as in `filesystem_used_percent{mountpoint=~"/|/data"}`. */
export interface SeriesSelector {
  readonly metric: string | undefined;
  readonly matchers: readonly CompiledMatcher[];
}

/** Builds a matcher; throws an Error naming the pattern when a regex does not compile. */
export function compileMatcher(name: string, op: MatchOp, value: string): CompiledMatcher {
  if (!LABEL_NAME_RE.test(name)) throw new Error(`"${name}" is not a label name`);
  let re: RegExp | undefined;
  if (op === "=~" || op === "!~") {
    try {
      re = new RegExp(`^(?:${value})$`, "u");
    } catch (err) {
      throw new Error(`bad regex "${value}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { name, op, value, re };
}

/** True when every matcher holds for `labels`. */
export function matchesAll(labels: Labels, matchers: readonly CompiledMatcher[]): boolean {
  for (const m of matchers) {
    const actual = labels[m.name] ?? "";
    let ok: boolean;
    switch (m.op) {
      case "=":
        ok = actual === m.value;
        break;
      case "!=":
        ok = actual !== m.value;
        break;
      case "=~":
        ok = (m.re as RegExp).test(actual);
        break;
      case "!~":
        ok = !(m.re as RegExp).test(actual);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

/** Parses one matcher written as in PromQL: `mountpoint=~"/data.*"`, `fstype!="tmpfs"`. */
export function parseMatcher(text: string): CompiledMatcher {
  const p = new SelectorParser(text);
  p.skipSpace();
  const m = p.matcher();
  p.skipSpace();
  p.expectEnd();
  return m;
}

/**
 * Parses a series selector: `metric`, `metric{a="1", b=~"x|y"}` or `{a="1"}`.
 * Throws an Error that quotes the text and says what was expected where.
 */
export function parseSelector(text: string): SeriesSelector {
  const p = new SelectorParser(text);
  p.skipSpace();
  const metric = p.peek() === "{" ? undefined : p.identifier(METRIC_NAME_RE, "a metric name");
  const matchers: CompiledMatcher[] = [];
  p.skipSpace();
  if (p.peek() === "{") {
    p.advance();
    p.skipSpace();
    while (p.peek() !== "}") {
      matchers.push(p.matcher());
      p.skipSpace();
      if (p.peek() === ",") {
        p.advance();
        p.skipSpace();
      } else if (p.peek() !== "}") p.fail(`expected "," or "}"`);
    }
    p.advance();
    p.skipSpace();
  }
  p.expectEnd();
  return { metric, matchers };
}

/** Labels from a selector that uses only `=` matchers, as test input series are written. */
export function selectorLabels(selector: SeriesSelector): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of selector.matchers) {
    if (m.op !== "=") throw new Error(`label ${m.name} uses "${m.op}"; an input series needs "=" only`);
    labels[m.name] = m.value;
  }
  return labels;
}

class SelectorParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  peek(): string | undefined {
    return this.text[this.pos];
  }

  advance(): void {
    this.pos++;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }

  fail(what: string): never {
    throw new Error(`${what} at position ${this.pos + 1} of ${JSON.stringify(this.text)}`);
  }

  expectEnd(): void {
    if (this.pos < this.text.length) this.fail("unexpected text");
  }

  identifier(re: RegExp, what: string): string {
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(this.text.slice(this.pos));
    if (!m || !re.test(m[0])) this.fail(`expected ${what}`);
    this.pos += m[0].length;
    return m[0];
  }

  matcher(): CompiledMatcher {
    const name = this.identifier(LABEL_NAME_RE, "a label name");
    this.skipSpace();
    const op = /^(=~|!~|!=|=)/.exec(this.text.slice(this.pos))?.[0] as MatchOp | undefined;
    if (!op) this.fail(`expected "=", "!=", "=~" or "!~"`);
    this.pos += op.length;
    this.skipSpace();
    return compileMatcher(name, op, this.quoted());
  }

  quoted(): string {
    const quote = this.peek();
    if (quote !== '"' && quote !== "'") this.fail("expected a quoted value");
    let out = "";
    this.pos++;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos] as string;
      this.pos++;
      if (c === quote) return out;
      if (c === "\\") {
        const next = this.text[this.pos];
        this.pos++;
        if (next === "n") out += "\n";
        else if (next === "t") out += "\t";
        else if (next === undefined) break;
        else if (next === "\\" || next === '"' || next === "'") out += next;
        // PromQL keeps unknown escapes for regexes: `\.` stays `\.`.
        else out += `\\${next}`;
      } else out += c;
    }
    return this.fail("unterminated quoted value");
  }
}
