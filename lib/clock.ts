/** The time source for TTL arithmetic; inject a fake one in tests instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: for tests. */
export class ManualClock implements Clock {
  constructor(private time = Date.now()) {}
  now(): number {
    return this.time;
  }
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.time += ms;
  }
}
