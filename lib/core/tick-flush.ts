/**
 * "Collect what arrives this tick, act once at its end": the scheduling every per-tick batch
 * shares (the Mongo and multi-store read/write queues through TickQueue, the Redis batch queue,
 * the SQLite tick transaction). One deferred call per tick, however many requests; no allocation
 * per request.
 */

/** Defers a callback: `process.nextTick` or `queueMicrotask`. */
export type Defer = (run: () => void) => void;

/**
 * Runs `flush` once, at the end of the tick in which `request()` was first called since the
 * last flush. Which end is the caller's choice (`defer`):
 * - `process.nextTick` (the default) runs once the current synchronous run is over and, when
 *   the request came from a promise continuation, once every microtask queued meanwhile has
 *   run too, so the calls other continuations of the same burst make join the batch (network
 *   batches: the more a round trip carries, the better);
 * - `queueMicrotask` runs after the microtasks already queued only, so a caller that awaits
 *   each call in turn gets its answer before it makes the next (the SQLite tick transaction).
 */
export class TickFlush {
  private pending = false;
  private readonly run = (): void => {
    this.pending = false;
    this.flush();
  };

  constructor(
    private readonly flush: () => void,
    private readonly defer: Defer = process.nextTick,
  ) {}

  /** Whether a flush is scheduled and has not run yet (a request was made this tick). */
  get requested(): boolean {
    return this.pending;
  }

  /** Schedules the flush, unless it is scheduled already. */
  request(): void {
    if (this.pending) return;
    this.pending = true;
    this.defer(this.run);
  }
}
