/**
 * The multi store's getMany hot path (lib/multi/multi-store.ts readManyNow): the front tier
 * answers what it holds synchronously and the misses join their keys' single-flight reads
 * below. It must keep everything the general path gives: program order with the calls around
 * it (SPEC §12), promotion, one lower read per key however many callers, counters, typed errors.
 */
import { expect } from 'chai';
import { MemoryStore } from '../lib/backends/memory';
import { MultiStore } from '../lib/multi/multi-store';
import { rejection } from '../lib/conformance/context';

describe('multi store: getMany', () => {
  let front: MemoryStore;
  let durable: MemoryStore;
  let store: MultiStore;

  beforeEach(async () => {
    front = new MemoryStore();
    durable = new MemoryStore();
    store = new MultiStore({ stores: [{ store: front, name: 'hot' }, { store: durable, name: 'db' }] });
    await store.connect();
  });

  afterEach(async () => {
    await store.close();
    await Promise.all([front.close(), durable.close()]);
  });

  it('answers from both tiers in the order of the keys, and promotes what it read below', async () => {
    await store.setMany([{ key: 'a', value: 1 }, { key: { id: 2 }, value: 2 }]);
    await durable.set('below', 'b');
    expect(await store.getMany(['a', 'below', 'none', { id: 2 }, 'a'])).to.deep.equal([1, 'b', undefined, 2, 1]);
    expect(await front.getOne('below')).to.equal('b');
    expect(await store.getMany([])).to.deep.equal([]);
  });

  it('keeps program order: a set issued after it is not seen, one issued before it is', async () => {
    await durable.set('k', 'old');
    const read = store.getMany(['k', 'other']);
    const write = store.set('k', 'new');
    expect(await read).to.deep.equal(['old', undefined]);
    await write;
    expect(await store.getMany(['k'])).to.deep.equal(['new']);
    // A set issued (not awaited) before the read: the read waits for it.
    const set = store.set('k2', 'v2');
    expect(await store.getMany(['k2'])).to.deep.equal(['v2']);
    await set;
  });

  it('shares one lower read per key with concurrent getOne and getMany callers', async () => {
    await durable.set('cold', 'c');
    const below = async () => (await store.stats()).tiers[1].hits;
    const before = await below();
    const reads = await Promise.all([store.getMany(['cold', 'cold']), store.getOne('cold'), store.getMany(['cold'])]);
    expect(reads).to.deep.equal([['c', 'c'], 'c', ['c']]);
    expect((await below()) - before).to.equal(1);
  });

  it('counts a hit or miss per key, as the general path does', async () => {
    await store.set('h', 1);
    await durable.set('l', 2);
    await store.resetStats();
    await store.getMany(['h', 'l', 'm']);
    const stats = await store.stats();
    expect([stats.hits, stats.misses]).to.deep.equal([2, 1]);
  });

  it('rejects with a StoreError when the complete tier fails, and refuses bad keys', async () => {
    expect((await rejection(store.getMany(['ok', 7 as unknown as string]))).code).to.equal('ERR_INVALID_KEY');
    expect((await rejection(store.getMany('a' as unknown as string[]))).code).to.equal('ERR_INVALID_ARGUMENT');
    const reported: Error[] = [];
    store.on('error', (err: Error) => reported.push(err)); // the tier going down is reported there
    await durable.close(); // the complete tier is gone: a key the front tier lacks cannot be answered
    const err = await rejection(store.getMany(['absent']));
    expect(err.name).to.match(/Error$/);
    expect(err.code).to.match(/^ERR_/);
    expect(reported.length).to.be.greaterThan(0);
  });
});
