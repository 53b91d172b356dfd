import { describe, expect, it } from "vitest";
import { compileTemplate, formatValue, type TemplateContext } from "./template.js";

const ctx: TemplateContext = {
  agent: "web-1",
  value: 97.123456789,
  labels: { mountpoint: "/data" },
  rule: "DiskFull",
  metric: "filesystem_used_percent",
  severity: "critical",
  threshold: 90,
};

describe("compileTemplate", () => {
  it("renders every variable", () => {
    const t = compileTemplate(
      "{{ $rule }}/{{$severity}}: {{ $agent }} {{ $metric }}{{ $labels.mountpoint }} at {{ $value }}% (> {{ $threshold }}){{ $labels.none }}",
    );
    expect(t(ctx)).toBe("DiskFull/critical: web-1 filesystem_used_percent/data at 97.1235% (> 90)");
  });

  it("keeps text without placeholders as it is", () => {
    expect(compileTemplate("plain { text }")(ctx)).toBe("plain { text }");
  });

  it("rejects unknown variables and unclosed placeholders", () => {
    expect(() => compileTemplate("{{ $host }}")).toThrow(
      /unknown template variable "\$host" \(known: \$agent/,
    );
    expect(() => compileTemplate("{{ .Value }}")).toThrow(/unknown template variable/);
    expect(() => compileTemplate("{{ $labels.1x }}")).toThrow(/unknown/);
    expect(() => compileTemplate("a {{ $agent")).toThrow(/unclosed/);
  });

  it("formats values", () => {
    expect(formatValue(3)).toBe("3");
    expect(formatValue(0.1 + 0.2)).toBe("0.3");
    expect(formatValue(Number.NaN)).toBe("NaN");
  });
});
