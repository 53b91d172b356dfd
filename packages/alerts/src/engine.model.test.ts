import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAckError } from "./ack-error.js";
import type { AlertEvent } from "./alert-event.js";
import { MemoryAlertStore } from "./alert-store.js";
import { AlertEngine } from "./engine.js";
import { one, RecordingSink, rules } from "./test-support.js";

const FOR_MS = 20_000;
const REPEAT_MS = 60_000;
const KEEP_MS = 10_000;
const rule = {
  name: "Hot",
  kind: "threshold",
  metric: "temp",
  op: ">",
  threshold: 50,
  for: "20s",
  keep_firing_for: "10s",
  repeat_interval: "1m",
};

type Command =
  | { readonly kind: "sample"; readonly series: number; readonly value: number; readonly dt: number }
  | { readonly kind: "tick"; readonly dt: number }
  | { readonly kind: "reload" }
  /** A server restart: a new engine over the same store. */
  | { readonly kind: "restart"; readonly dt: number }
  /** Acknowledge series k's alert, for `ttl` ms (0: until it resolves). */
  | { readonly kind: "ack"; readonly series: number; readonly ttl: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("sample" as const),
      series: fc.integer({ min: 0, max: 2 }),
      value: fc.constantFrom(10, 60),
      dt: fc.integer({ min: 0, max: 15_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("tick" as const), dt: fc.integer({ min: 0, max: 90_000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "reload" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("restart" as const), dt: fc.integer({ min: 0, max: 30_000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("ack" as const),
      series: fc.integer({ min: 0, max: 2 }),
      ttl: fc.constantFrom(0, 30_000, 120_000),
    }),
  },
);

/**
 * A model of one series under the rule, written from the documented semantics rather than from the
 * engine's code: what may be notified when.
 */
interface ModelSeries {
  activeAt: number | undefined;
  lastTrue: boolean;
  firing: boolean;
  lastSentAt: number;
  falseSince: number | undefined;
  /** While acknowledged: when the acknowledgement expires (Infinity: until resolved). */
  ackUntil: number | undefined;
}

describe("AlertEngine against a model (fast-check)", () => {
  it("misses no transition and never notifies twice within repeat_interval across restarts and acks; reloads send nothing", () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 120 }), (commands) => {
        const sink = new RecordingSink();
        const store = new MemoryAlertStore();
        const newEngine = (at: number) => {
          const e = new AlertEngine({ sink, now: at, staleAfterMs: 3_600_000, store });
          e.setRules(rules(rule), at);
          return e;
        };
        let engine = newEngine(0);
        const model = new Map<number, ModelSeries>();
        let now = 0;
        let ts = 0;
        const expectedEvents: string[] = [];
        const step = (k: number, m: ModelSeries, active: boolean) => {
          m.lastTrue = active;
          if (active) {
            m.falseSince = undefined;
            m.activeAt ??= now;
            if (!m.firing && now - m.activeAt >= FOR_MS) {
              m.firing = true;
              m.lastSentAt = now;
              expectedEvents.push(`${k}:${now}:firing`);
            } else if (m.firing && now - m.lastSentAt >= REPEAT_MS && !acked(m)) {
              m.lastSentAt = now;
              expectedEvents.push(`${k}:${now}:repeat`);
            }
            return;
          }
          if (!m.firing) {
            m.activeAt = undefined;
            return;
          }
          m.falseSince ??= now;
          if (now - m.falseSince < KEEP_MS) {
            if (now - m.lastSentAt >= REPEAT_MS && !acked(m)) {
              m.lastSentAt = now;
              expectedEvents.push(`${k}:${now}:repeat`);
            }
            return;
          }
          m.firing = false;
          m.activeAt = undefined;
          m.falseSince = undefined;
          m.ackUntil = undefined;
          expectedEvents.push(`${k}:${now}:resolved`);
        };
        const acked = (m: ModelSeries) => m.ackUntil !== undefined && now < m.ackUntil;
        for (const c of commands) {
          if (c.kind === "reload") {
            const before = sink.events.length;
            engine.setRules(rules(rule), now);
            expect(sink.events.length).toBe(before);
            continue;
          }
          if (c.kind === "restart") {
            // Nothing is sent by a restart itself: not on the way down, not on the way up.
            engine.flush();
            now += c.dt;
            const before = sink.events.length;
            engine = newEngine(now);
            engine.flush();
            expect(sink.events.length).toBe(before);
            continue;
          }
          if (c.kind === "ack") {
            const m = model.get(c.series);
            const active = engine.activeAlerts().find((a) => a.labels.k === String(c.series));
            const input = { by: "model", comment: "", expiresAt: c.ttl > 0 ? now + c.ttl : undefined };
            if (m?.firing) {
              engine.acknowledge(active?.fingerprint as string, input, now);
              m.ackUntil = c.ttl > 0 ? now + c.ttl : Number.POSITIVE_INFINITY;
            } else {
              let err: unknown;
              try {
                engine.acknowledge(active?.fingerprint ?? "none", input, now);
              } catch (e) {
                err = e;
              }
              expect(isAckError(err)).toBe(true);
            }
            engine.flush();
            continue;
          }
          now += c.dt;
          if (c.kind === "sample") {
            ts += 1 + c.dt;
            engine.ingest("a", [one("temp", { k: String(c.series) }, ts, c.value)], now);
            let m = model.get(c.series);
            if (!m) {
              m = {
                activeAt: undefined,
                lastTrue: false,
                firing: false,
                lastSentAt: 0,
                falseSince: undefined,
                ackUntil: undefined,
              };
              model.set(c.series, m);
            }
            step(c.series, m, c.value > 50);
          } else {
            engine.tick(now);
            for (const [k, m] of [...model].sort(([a], [b]) => a - b)) {
              if (m.activeAt !== undefined || m.firing) step(k, m, m.lastTrue);
            }
          }
          engine.flush();
        }
        const got = sink.events.map((e: AlertEvent) => `${e.labels.k}:${e.at}:${e.type}`);
        // Order within one `now` may differ between series; compare per series.
        const bySeries = (lines: string[]) =>
          [0, 1, 2].map((k) => lines.filter((l) => l.startsWith(`${k}:`)));
        expect(bySeries(got)).toEqual(bySeries(expectedEvents));
        // No two firing/repeat notifications of one alert within repeat_interval.
        const lastSent = new Map<string, number>();
        for (const e of sink.events) {
          if (e.type === "resolved") {
            lastSent.delete(e.fingerprint);
            continue;
          }
          const prev = lastSent.get(e.fingerprint);
          if (prev !== undefined) expect(e.at - prev).toBeGreaterThanOrEqual(REPEAT_MS);
          lastSent.set(e.fingerprint, e.at);
        }
        // What is firing now is what the events say is firing.
        const firingNow = engine
          .activeAlerts()
          .filter((a) => a.state === "firing")
          .map((a) => Number(a.labels.k))
          .sort();
        const modelFiring = [...model]
          .filter(([, m]) => m.firing)
          .map(([k]) => k)
          .sort();
        expect(firingNow).toEqual(modelFiring);
      }),
      { numRuns: 300 },
    );
  });
});
