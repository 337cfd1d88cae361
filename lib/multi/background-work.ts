/**
 * Counts the multi store's background work (promotions, invalidations) so that `idle()` and
 * `close()` can wait for it. A counter rather than a set of promises: a promotion is on the
 * miss path, thousands at a time, and only needs `start()` before and `done()` after.
 */
export class BackgroundWork {
  private running = 0;
  private waiters: Array<() => void> = [];

  /** One more piece of work has started; call `done` when it ends, whatever the outcome. */
  start(): void {
    this.running++;
  }

  readonly done = (): void => {
    if (--this.running > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  };

  /** Tracks a promise's work (its outcome is the caller's to handle). */
  track(p: Promise<unknown>): void {
    this.start();
    p.then(this.done, this.done);
  }

  /** Resolves when no work is running (at once if none is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
