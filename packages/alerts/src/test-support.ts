import type { Labels, SeriesSamples } from "@vigil/common";
import type { AlertEvent, AlertSink } from "./alert-event.js";
import { AlertEngine, type AlertEngineOptions } from "./engine.js";
import { parseRule, type Rule } from "./rule.js";

/** A sink that keeps every event. */
export class RecordingSink implements AlertSink {
  readonly events: AlertEvent[] = [];
  emit(event: AlertEvent): void {
    this.events.push(event);
  }
  /** `"<seconds>s:<type>"` per event, e.g. `"180s:firing"`. */
  timeline(): string[] {
    return this.events.map((e) => `${e.at / 1000}s:${e.type}`);
  }
  clear(): void {
    this.events.length = 0;
  }
}

export function rules(...defs: Record<string, unknown>[]): Rule[] {
  return defs.map((d, i) => parseRule(d, i));
}

export function engineWith(
  defs: Record<string, unknown>[],
  opts: Partial<AlertEngineOptions> = {},
): { engine: AlertEngine; sink: RecordingSink } {
  const sink = new RecordingSink();
  const engine = new AlertEngine({ sink, now: 0, offlineGraceMs: 0, ...opts });
  engine.setRules(rules(...defs), opts.now ?? 0);
  return { engine, sink };
}

export function one(metric: string, labels: Labels, ts: number, value: number): SeriesSamples {
  return { metric, labels, timestamps: [ts], values: [value] };
}

/**
 * Feeds one series to one agent, one value per `stepMs` from time 0 (`undefined` skips a step), with
 * a tick after each step; returns the sink's timeline.
 */
export function drive(
  engine: AlertEngine,
  sink: RecordingSink,
  metric: string,
  values: readonly (number | undefined)[],
  opts: { stepMs?: number; agent?: string; labels?: Labels } = {},
): string[] {
  const step = opts.stepMs ?? 60_000;
  values.forEach((v, i) => {
    const now = i * step;
    if (v !== undefined) engine.ingest(opts.agent ?? "web-1", [one(metric, opts.labels ?? {}, now, v)], now);
    engine.tick(now);
  });
  return sink.timeline();
}
