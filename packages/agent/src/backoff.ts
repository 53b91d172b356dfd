/**
 * Exponential backoff with full jitter (AWS architecture blog's "full jitter"): the n-th retry waits
 * a uniform random time in [0, min(max, initial * 2^n)], so agents that lost the server together
 * do not all come back in the same second.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
