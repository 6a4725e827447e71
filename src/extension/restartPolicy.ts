// When to restart a crashed inference process: like vscode-languageclient's DefaultErrorHandler,
// restart unless it already crashed `maxRestarts` times within `windowMs`; a crash loop (bad
// model, broken native module) then stops and the user is told instead of being spammed.
// Pure (no vscode); the clock is injected so tests need no timers.

export type CrashDecision = { action: 'restart'; attempt: number } | { action: 'giveUp'; crashes: number };

export class RestartPolicy {
  private readonly _crashes: number[] = [];

  constructor(
    readonly maxRestarts = 3,
    readonly windowMs = 3 * 60_000,
    private readonly _now: () => number = Date.now,
  ) {
    if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
      throw new Error(`RestartPolicy: maxRestarts must be a non-negative integer, got ${maxRestarts}`);
    }
    if (!(windowMs > 0)) throw new Error(`RestartPolicy: windowMs must be > 0, got ${windowMs}`);
  }

  /** Records a crash now and says whether to restart. */
  recordCrash(): CrashDecision {
    const now = this._now();
    this._crashes.push(now);
    while (this._crashes.length > 0 && now - this._crashes[0]! > this.windowMs) this._crashes.shift();
    const recent = this._crashes.length;
    if (recent > this.maxRestarts) return { action: 'giveUp', crashes: recent };
    return { action: 'restart', attempt: recent };
  }

  /** Forgets past crashes (after the user explicitly restarts or changes settings). */
  reset(): void {
    this._crashes.length = 0;
  }
}
