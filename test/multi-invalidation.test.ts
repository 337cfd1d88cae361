/**
 * The invalidation bus in one process: two multi stores with their own memory tiers in front
 * of one shared store (a memory store presented as shared), coupled through a real Redis
 * channel. The two-process test with Redis and MongoDB tiers is multi-coherence.test.ts.
 */
import { expect } from 'chai';
import { MultiStore } from '../lib/multi/multi-store';
import { MemoryStore } from '../lib/backends/memory';
import { FaultyStore } from './support/multi-faulty';
import { sharedRedis } from './support/redis-server';

interface Dropped {
  op: string;
  id?: string;
}

function nextDrop(store: MultiStore, match: (d: Dropped) => boolean = () => true): Promise<Dropped> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no invalidation within 5 s')), 5000);
    const on = (d: Dropped) => {
      if (!match(d)) return;
      clearTimeout(timer);
      store.off('invalidation', on);
      resolve(d);
    };
    store.on('invalidation', on);
  });
}

describe('multi store: invalidation bus (one process, real Redis channel)', () => {
  let a: MultiStore;
  let b: MultiStore;
  let frontA: MemoryStore;
  let frontB: MemoryStore;
  let shared: MemoryStore;

  beforeEach(async function () {
    this.timeout(60_000);
    const { url } = await sharedRedis();
    const channel = `test-invalidation-${process.pid}-${Date.now()}`;
    shared = new MemoryStore();
    frontA = new MemoryStore();
    frontB = new MemoryStore();
    const durable = () => new FaultyStore(shared); // the same data, presented as a shared store
    a = new MultiStore({ stores: [frontA, durable()], invalidation: { redis: url, channel } });
    b = new MultiStore({ stores: [frontB, durable()], invalidation: { redis: url, channel } });
    await Promise.all([a.connect(), b.connect()]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([frontA.close(), frontB.close(), shared.close()]);
  });

  it('drops an overwritten or deleted key from the other store’s memory tier, and ignores its own messages', async () => {
    await a.set('k', 1);
    expect(await b.getOne('k')).to.equal(1);
    await b.idle();
    expect(await frontB.getOne('k')).to.equal(1);
    let dropped = nextDrop(b, (d) => d.id === 'k');
    await a.set('k', 2);
    await dropped;
    expect(await frontB.getOne('k')).to.equal(undefined);
    expect(await b.getOne('k')).to.equal(2);
    await b.idle();
    dropped = nextDrop(b, (d) => d.id === 'k');
    await a.del('k');
    await dropped;
    expect(await b.getOne('k')).to.equal(undefined);
    const statsA = await a.stats();
    expect(statsA.invalidations.published).to.be.greaterThan(0);
    expect(statsA.invalidations.received, 'B only read, so A receives nothing and ignores its own messages').to.equal(0);
  });

  it('a query delete drops the matches; a query with a RegExp operand and clear() drop everything local', async () => {
    if (process.env.DEBUG_MULTI) b.on('invalidation', (d) => console.log('      B', JSON.stringify(d), frontB.internals.size));
    for (let i = 0; i < 10; i++) await a.set({ team: i % 2 ? 'red' : 'blue', i }, i);
    await a.set('plain', 'p');
    // Let the 11 invalidations of those writes arrive before B caches the keys.
    while ((await b.stats()).invalidations.received < 11) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 10; i++) await b.getOne({ team: i % 2 ? 'red' : 'blue', i });
    await b.getOne('plain');
    await b.idle();
    expect(frontB.internals.size).to.equal(11);
    let dropped = nextDrop(b, (d) => d.op === 'q');
    expect(await a.del({ team: 'red' })).to.equal(5);
    await dropped;
    expect(frontB.internals.size).to.equal(6);
    dropped = nextDrop(b, (d) => d.op === 'c');
    await a.del({ team: { $regex: /^bl/ } }); // a RegExp object does not survive JSON
    await dropped;
    expect(frontB.internals.size).to.equal(0);
    await b.getOne('plain');
    await b.idle();
    dropped = nextDrop(b, (d) => d.op === 'c');
    await a.clear();
    await dropped;
    expect(frontB.internals.size).to.equal(0);
    expect(await b.getOne('plain')).to.equal(undefined);
  });

  it('bulk calls are published like their single forms: setMany and delMany per key, delKeys(glob) drops everything local', async () => {
    await a.setMany([{ key: 'user:1', value: 1 }, { key: 'user:2', value: 2 }, { key: 'other', value: 3 }]);
    while ((await b.stats()).invalidations.received < 3) await new Promise((r) => setTimeout(r, 5));
    expect(await b.getMany(['user:1', 'user:2', 'other'])).to.deep.equal([1, 2, 3]);
    await b.idle();
    expect(frontB.internals.size).to.equal(3);
    let dropped = nextDrop(b, (d) => d.id === 'user:2');
    await a.setMany([{ key: 'user:2', value: 'two' }]);
    await dropped;
    expect(await frontB.getOne('user:2')).to.equal(undefined);
    expect(await b.getOne('user:2')).to.equal('two');
    dropped = nextDrop(b, (d) => d.id === 'other');
    expect(await a.delMany(['other'])).to.equal(1);
    await dropped;
    expect(await b.getOne('other')).to.equal(undefined);
    await b.getMany(['user:1', 'user:2']);
    await b.idle();
    dropped = nextDrop(b, (d) => d.op === 'c');
    expect(await a.delKeys('user:*')).to.equal(2);
    await dropped;
    expect(frontB.internals.size).to.equal(0);
    expect(await b.getMany(['user:1', 'user:2'])).to.deep.equal([undefined, undefined]);
  });
});
