/**
 * One key's change between two consecutive readings. `deltas[i]` is undefined where either
 * reading lacked field `i` (a kernel that does not report it), so "not reported" never reads as 0.
 */
export interface CounterDelta {
  readonly deltas: readonly (number | undefined)[];
  /** Milliseconds between the two readings' timestamps, for per-second rates. */
  readonly elapsedMs: number;
}

/**
 * Remembers the previous reading of monotonic kernel counters per key (a CPU, an interface, a
 * disk) and turns each new reading into deltas. Every rate in the collectors goes through here,
 * so first readings and counter resets are handled one way:
 *
 * - the first reading of a key gives no delta;
 * - a reading where any field went down (counters reset: a CPU hot-plugged back, a driver
 *   reloaded, a wrap) gives no delta and becomes the new base, so a reset never shows as a huge
 *   or negative rate;
 * - keys not seen since the previous {@link sweep} are forgotten, so a device that disappears
 *   and comes back starts over instead of spanning the gap.
 */
export class CounterDeltas {
  private readonly previous = new Map<string, { values: readonly (number | undefined)[]; atMs: number }>();
  private readonly seen = new Set<string>();

  /** Records `values` for `key` at `nowMs`; returns the change since the previous reading, if any. */
  next(key: string, values: readonly (number | undefined)[], nowMs: number): CounterDelta | undefined {
    const before = this.previous.get(key);
    this.previous.set(key, { values, atMs: nowMs });
    this.seen.add(key);
    if (before === undefined || before.values.length !== values.length) return undefined;

    const deltas: (number | undefined)[] = [];
    for (let i = 0; i < values.length; i++) {
      const now = values[i];
      const then = before.values[i];
      if (now === undefined || then === undefined) {
        deltas.push(undefined);
        continue;
      }
      if (now < then) return undefined;
      deltas.push(now - then);
    }
    return { deltas, elapsedMs: nowMs - before.atMs };
  }

  /** Forgets every key not passed to {@link next} since the previous sweep. Call once per successful reading. */
  sweep(): void {
    for (const key of this.previous.keys()) if (!this.seen.has(key)) this.previous.delete(key);
    this.seen.clear();
  }

  /** Number of keys with a remembered reading. */
  get size(): number {
    return this.previous.size;
  }
}
