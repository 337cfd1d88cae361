/**
 * Single-flight reads: concurrent misses on one key share one lower-tier read. A write or
 * delete of the key marks the read in flight stale, so its result is still returned to the
 * callers that were already waiting (their reads overlapped the write) but is never promoted
 * into an upper tier, where it would outlive the write.
 */

/** One read in flight. */
export interface Flight<T> {
  promise: Promise<T>;
  /** Set when a write or delete of the key happened while the read was in flight. */
  stale: boolean;
}

/** See the file comment. */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** Joins the read of `id` in flight, or starts one with `read`. */
  run(id: string, read: (flight: Flight<T>, id: string) => Promise<T>): Promise<T> {
    const existing = this.flights.get(id);
    if (existing) return existing.promise;
    const flight: Flight<T> = { promise: undefined as unknown as Promise<T>, stale: false };
    this.flights.set(id, flight);
    const forget = () => {
      if (this.flights.get(id) === flight) this.flights.delete(id);
    };
    flight.promise = read(flight, id);
    flight.promise.then(forget, forget);
    return flight.promise;
  }

  /**
   * A write of `id` happened: the read in flight must not be promoted, and later reads start
   * afresh. Resolves once that read has settled (undefined when none was in flight): a write
   * waits for it, so a read issued before the write never sees it (SPEC §12 program order).
   */
  invalidate(id: string): Promise<void> | undefined {
    const flight = this.flights.get(id);
    if (!flight) return undefined;
    flight.stale = true;
    this.flights.delete(id);
    return flight.promise.then(noop, noop);
  }

  /** A query delete or clear happened: every read in flight is stale. Resolves once they have all settled. */
  invalidateAll(): Promise<void> | undefined {
    if (this.flights.size === 0) return undefined;
    const reading: Array<Promise<unknown>> = [];
    for (const flight of this.flights.values()) {
      flight.stale = true;
      reading.push(flight.promise);
    }
    this.flights.clear();
    return Promise.allSettled(reading).then(noop);
  }

  /** Reads in flight (tests). */
  get size(): number {
    return this.flights.size;
  }
}

function noop(): void {}
