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

/** How many readings a stamp clock hands out before it reads the wall clock again. */
const STAMP_READS = 64;

/**
 * A clock for timestamps written in bursts (the memory store's createdAt/updatedAt, SPEC §16):
 * on this machine a `Date.now()` costs ~120 ns, a third of a memory `set`. The wall clock is
 * read at most once per STAMP_READS calls and its reading is dropped at the next timer turn
 * (1 ms), as lru-cache's `ttlResolution` does: a stamp is at most 64 calls or one event-loop
 * turn behind. A clock the user gave (a ManualClock in tests) is read every time, exactly.
 * Expiry never uses this: TTL checks read the store's clock itself.
 */
export function stampClock(clock: Clock): () => number {
  if (clock !== systemClock) return () => clock.now();
  let cached = 0;
  let reads = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const forget = (): void => {
    cached = 0;
    timer = undefined;
  };
  return () => {
    if (cached !== 0 && ++reads < STAMP_READS) return cached;
    reads = 0;
    cached = Date.now();
    if (timer === undefined) (timer = setTimeout(forget, 1)).unref();
    return cached;
  };
}
