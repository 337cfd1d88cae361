/**
 * getMeta on the multi store (SPEC §16, lib/multi/complete-reads.ts): the complete tier
 * answers, because a cache tier's copy was written when it was promoted and carries no tags.
 */
import { expect } from 'chai';
import { MemoryStore } from '../lib/backends/memory';
import { ManualClock } from '../lib/clock';
import { MultiStore } from '../lib/multi/multi-store';

describe('multi store: getMeta', () => {
  const clock = new ManualClock(1_800_000_000_000);
  let front: MemoryStore;
  let durable: MemoryStore;
  let store: MultiStore;

  beforeEach(async () => {
    front = new MemoryStore({ clock });
    durable = new MemoryStore({ clock });
    store = new MultiStore({ clock, stores: [{ store: front, name: 'hot' }, { store: durable, name: 'db' }] });
    await store.connect();
  });

  afterEach(async () => {
    await store.close();
    await Promise.all([front.close(), durable.close()]);
  });

  it("reads the complete tier's times and tags, not the promoted copy's", async () => {
    const created = clock.now();
    await durable.set('k', { v: 1 }, { ttl: 60_000, tags: ['red', 'blue'] });
    clock.advance(1_000);
    expect(await store.getOne('k')).to.deep.equal({ v: 1 }); // promoted into the front tier now
    await store.idle();
    expect((await front.getMeta('k'))?.createdAt).to.equal(created + 1_000);
    const meta = await store.getMeta('k');
    expect(meta).to.deep.include({ createdAt: created, updatedAt: created, expiresAt: created + 60_000, tags: ['red', 'blue'] });
    expect(meta?.size).to.equal(Buffer.byteLength(JSON.stringify({ v: 1 })));
  });

  it('follows writes through the store, and answers undefined for an absent key', async () => {
    const t0 = clock.now();
    await store.set('k', 'a', { tags: ['t'] });
    clock.advance(500);
    await store.set('k', 'bb');
    expect(await store.getMeta('k')).to.deep.include({ createdAt: t0, updatedAt: t0 + 500, expiresAt: null, tags: [] });
    expect(await store.getMeta('absent')).to.equal(undefined);
    await store.del('k');
    expect(await store.getMeta('k')).to.equal(undefined);
  });
});
