/**
 * lib/clock.ts stampClock: the memory store's createdAt/updatedAt clock. It reads the wall clock
 * at most once per 64 calls and drops the reading at the next timer turn, so stamps are cheap
 * and never older than a burst of 64 calls or one event-loop turn; a given clock is read exactly.
 */
import { expect } from 'chai';
import { ManualClock, stampClock, systemClock } from '../lib/clock';

describe('stampClock', () => {
  it('reads a given clock on every call', () => {
    const clock = new ManualClock(1_000);
    const stamp = stampClock(clock);
    expect(stamp()).to.equal(1_000);
    clock.advance(5);
    expect(stamp()).to.equal(1_005);
  });

  it('reads the wall clock again after 64 calls, however fast they come', () => {
    const stamp = stampClock(systemClock);
    const first = stamp();
    expect(first).to.be.within(Date.now() - 5, Date.now());
    // Spin until the wall clock has moved on: the cached reading is then visibly old.
    while (Date.now() === first) {
      /* a busy wait of under a millisecond */
    }
    const seen = Array.from({ length: 64 }, () => stamp());
    expect(seen.slice(0, 63).every((t) => t === first), 'the first 63 further calls reuse the reading').to.equal(true);
    expect(seen[63]).to.be.greaterThan(first);
  });

  it('drops its reading at the next timer turn', async () => {
    const stamp = stampClock(systemClock);
    const first = stamp();
    await new Promise((resolve) => setTimeout(resolve, 5)); // the turn the stamp clock's own 1 ms timer ends
    expect(stamp()).to.be.greaterThan(first);
  });
});
