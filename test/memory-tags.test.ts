/**
 * The memory store's tags and touch (SPEC §15) beyond the conformance suite: the tag records
 * go with their entries however the entries go (delete, overwrite, expiry, eviction, clear),
 * a touch turns a plain entry into a timed one without losing its place, and the
 * 'expire' / 'evict' notifications reach the store only while someone listens.
 */
import { expect } from 'chai';
import Store = require('../index');
import { ManualClock } from '../lib/clock';

const open: Store.MemoryStore[] = [];
function memory(settings: Store.MemorySettings = {}): Store.MemoryStore {
  const store = new Store.MemoryStore(settings);
  open.push(store);
  return store;
}
afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

describe('memory store: tags and touch', () => {
  it('a tag record goes with its last entry: delete, overwrite without tags, expiry, eviction, clear', async () => {
    const clock = new ManualClock(1_000_000);
    const store = memory({ clock, maxKeys: 3 });
    await store.set('a', 1, { tags: ['t-del'] });
    await store.set('b', 2, { tags: ['t-over'] });
    await store.set('c', 3, { tags: ['t-exp', 'shared'], ttl: 100 });
    expect(store.internals.tags).to.equal(4);
    await store.del('a');
    await store.set('b', 'plain');
    expect(store.internals.tags).to.equal(2);
    clock.advance(101);
    store.sweep();
    expect(store.internals.tags).to.equal(0);
    await store.set('x', 1, { tags: ['t-evict'] });
    await store.set('y', 2);
    await store.set('z', 3);
    await store.set('w', 4); // evicts the least recently used: b, then x
    await store.set('v', 5);
    expect(await store.has('x')).to.equal(false);
    expect(store.internals.tags).to.equal(0);
    await store.set('q', 1, { tags: ['t-clear'] });
    await store.clear();
    expect(store.internals.tags).to.equal(0);
    expect(await store.delByTags(['t-clear', 't-evict', 't-exp'])).to.equal(0);
  });

  it('a write over an expired tagged entry keeps only its own tags', async () => {
    const clock = new ManualClock(1_000_000);
    const store = memory({ clock });
    await store.set('k', 1, { tags: ['old'], ttl: 10 });
    clock.advance(11);
    await store.set('k', 2, { tags: ['new'] });
    expect(store.internals.tags).to.equal(1);
    expect(await store.delByTags(['old'])).to.equal(0);
    expect(await store.delByTags(['new'])).to.equal(1);
  });

  it('touch gives a plain string-key entry a TTL in place (creation order kept), and takes it away again', async () => {
    const clock = new ManualClock(1_000_000);
    const store = memory({ clock });
    await store.set('first', 1);
    await store.set('second', 2);
    expect(await store.touch('first', 50)).to.equal(true);
    expect(await store.keys()).to.deep.equal(['first', 'second']);
    expect(await store.touch('first', null)).to.equal(true);
    clock.advance(100);
    expect(await store.getOne('first')).to.equal(1);
    expect(await store.touch('second', 10)).to.equal(true);
    clock.advance(11);
    expect(await store.keys()).to.deep.equal(['first']);
    expect((await store.stats()).expirations).to.equal(1);
  });

  it("reports 'expire' and 'evict' with the key only while someone listens", async () => {
    const clock = new ManualClock(1_000_000);
    const store = memory({ clock, maxKeys: 2 });
    const seen: Array<[string, unknown]> = [];
    await store.set({ id: 1 }, 'timed', { ttl: 10 });
    clock.advance(11);
    expect(await store.getOne({ id: 1 })).to.equal(undefined); // nobody listens: nothing to report
    store.on('expire', (e: { key: unknown }) => seen.push(['expire', e.key]));
    store.on('evict', (e: { key: unknown }) => seen.push(['evict', e.key]));
    await store.set({ id: 2 }, 'timed', { ttl: 10 });
    clock.advance(11);
    expect(await store.getOne({ id: 2 })).to.equal(undefined);
    await store.set('a', 1);
    await store.set('b', 2);
    await store.set('c', 3);
    expect(seen).to.deep.equal([
      ['expire', { id: 2 }],
      ['evict', 'a'],
    ]);
  });
});
