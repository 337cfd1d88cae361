/**
 * The store core's own rules (SPEC §12), checked on the memory store where the clock is fully
 * injectable: TTL arithmetic at its edges, counting refused calls, and scopes of closed stores.
 * Behaviour every backend shares is in the conformance suite; program order in program-order.test.ts.
 */
import { expect } from 'chai';
import { ManualClock } from '../lib/clock';
import { MemoryStore } from '../lib/backends/memory';

describe('store core', () => {
  it('a TTL too small to move the clock (1e-320 ms) stores an entry that lives one millisecond, not an expired one', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryStore({ clock });
    await store.set('tiny', 1, { ttl: 1e-320 });
    expect(await store.getOne('tiny')).to.equal(1);
    expect(await store.ttl('tiny')).to.be.greaterThan(0);
    clock.advance(1);
    expect(await store.getOne('tiny')).to.equal(undefined);
    await store.close();
  });

  it('stats().errors counts calls refused for a bad argument, not only backend failures', async () => {
    const store = new MemoryStore();
    await store.getOne({ $bad: 1 }).catch(() => undefined);
    await store.set('k', () => 1).catch(() => undefined);
    await store.get({ a: { $where: 'x' } }).catch(() => undefined);
    await store.set('k', 1, { ttl: -1 }).catch(() => undefined);
    await store.setex('k', 1, 0).catch(() => undefined);
    expect((await store.stats()).errors).to.equal(5);
    await store.close();
  });
});
