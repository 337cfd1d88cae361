/**
 * Tags and touch on the multi store across processes (SPEC §15): a delete by tags in one
 * process removes the tagged entries from the other's memory tier (the bus carries the tags,
 * the receiver repeats the delete on its in-process tiers); a touch is published like a write,
 * so the other process drops its copy that carries the old expiry. Two multi stores with
 * their own memory tiers over one shared store, coupled through a real Redis channel.
 */
import { expect } from 'chai';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/backends/memory';
import { ManualClock } from '../lib/clock';
import { FaultyStore } from './support/multi-faulty';
import { sharedRedis } from './support/redis-server';

/** Resolves with the next invalidation `store` applies whose op is `op`. */
function nextDrop(store: MultiStore, op: string): Promise<{ op: string; dropped: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${op}' invalidation within 5 s`)), 5000);
    const on = (d: { op: string; dropped: number }) => {
      if (d.op !== op) return;
      clearTimeout(timer);
      store.off('invalidation', on);
      resolve(d);
    };
    store.on('invalidation', on);
  });
}

describe('multi store: tags and touch across processes (real Redis channel)', () => {
  let a: MultiStore;
  let b: MultiStore;
  let frontA: MemoryStore;
  let frontB: MemoryStore;
  let shared: MemoryStore;
  const clock = new ManualClock(Date.now());

  beforeEach(async function () {
    this.timeout(60_000);
    const { url } = await sharedRedis();
    const channel = `test-tags-${process.pid}-${Date.now()}`;
    shared = new MemoryStore({ clock });
    frontA = new MemoryStore({ clock });
    frontB = new MemoryStore({ clock });
    const durable = () => new FaultyStore(shared, undefined, { clock });
    a = new MultiStore({ clock, stores: [frontA, durable()], invalidation: { redis: url, channel } });
    b = new MultiStore({ clock, stores: [frontB, durable()], invalidation: { redis: url, channel } });
    await Promise.all([a.connect(), b.connect()]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([frontA.close(), frontB.close(), shared.close()]);
  });

  it('supports tags when every tier does; delByTags in either process removes the tagged entries from every memory tier', async () => {
    expect(a.supports.tags).to.equal(true);
    await a.setMany([
      { key: 'p1', value: 1, tags: ['product'] },
      { key: 'p2', value: 2, tags: ['product', 'sale'] },
      { key: 'u1', value: 3, tags: ['user'] },
    ]);
    // B's own reads promote the entries into its memory tier, without their tags: the tagged
    // delete must still reach them there (and A's, which were promoted the same way).
    while ((await b.stats()).invalidations.received < 3) await new Promise((r) => setTimeout(r, 5));
    await frontA.clear();
    expect(await a.getMany(['p1', 'p2', 'u1'])).to.deep.equal([1, 2, 3]);
    expect(await b.getMany(['p1', 'p2', 'u1'])).to.deep.equal([1, 2, 3]);
    await Promise.all([a.idle(), b.idle()]);
    expect(await frontA.getMany(['p1', 'p2', 'u1'])).to.deep.equal([1, 2, 3]);
    expect(await frontB.getMany(['p1', 'p2', 'u1'])).to.deep.equal([1, 2, 3]);
    const dropped = nextDrop(b, 't');
    expect(await a.delByTags(['product'])).to.equal(2);
    expect(await a.getMany(['p1', 'p2', 'u1'])).to.deep.equal([undefined, undefined, 3]);
    expect((await dropped).dropped).to.be.greaterThan(0);
    expect(await frontB.getMany(['p1', 'p2'])).to.deep.equal([undefined, undefined]);
    expect(await b.getMany(['p1', 'p2', 'u1'])).to.deep.equal([undefined, undefined, 3]);
    const droppedInA = nextDrop(a, 't');
    expect(await b.delByTags(['user'])).to.equal(1);
    await droppedInA;
    expect(await frontA.getOne('u1')).to.equal(undefined);
    expect(await a.getOne('u1')).to.equal(undefined);
  });

  it('touch changes the expiry in every tier and the other process drops its copy with the old one', async () => {
    await a.set('k', 'v', { ttl: 1_000 });
    expect(await b.getOne('k')).to.equal('v');
    await b.idle();
    expect(await frontB.ttl('k')).to.be.within(1, 1_000);
    const dropped = nextDrop(b, 'k');
    expect(await a.touch('k', 60_000)).to.equal(true);
    await dropped;
    expect(await frontB.getOne('k')).to.equal(undefined);
    expect(await shared.ttl('k')).to.be.within(59_000, 60_000);
    expect(await frontA.ttl('k')).to.be.within(59_000, 60_000);
    clock.advance(2_000);
    expect(await b.getOne('k')).to.equal('v');
    expect(await a.touch('missing', 1_000)).to.equal(false);
    expect(await frontA.has('missing')).to.equal(false);
  });

  it('a multi store whose tiers cannot all keep tags refuses them', async () => {
    const plain = new MultiStore({ stores: [new MemoryStore(), new FaultyStore(new MemoryStore(), undefined, {}, { tags: false })] });
    try {
      expect(plain.supports.tags).to.equal(false);
      const err = await plain.set('k', 1, { tags: ['t'] }).then(() => undefined, (e: { code?: string }) => e);
      expect(err?.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(await plain.has('k')).to.equal(false);
    } finally {
      await plain.close();
    }
  });
});
