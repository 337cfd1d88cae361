/**
 * memstorage's `cache: true` (issue #13 item 9), the way legacy code uses it: `Store()` with
 * result-first callbacks over two MongoDB stores that hold different keys. The cache is the
 * union of the stores, copied at connect last store first so the first store wins a key both
 * hold, and it answers every read — queries, counts and key listings included — so a key only
 * the first store holds is found.
 */
import { expect } from 'chai';
import Store = require('../index');
import { MongoStore } from '../lib/backends/mongo';
import type { MultiStore } from '../lib/multi/multi-store';
import { sharedMongo } from './support/mongo-server';

/** A legacy result-first call as a promise of its one argument. */
function legacy<T>(call: (cb: (result: T) => void) => unknown): Promise<T> {
  return new Promise((resolve) => call(resolve));
}

describe("multi store: memstorage's cache: true over two MongoDB stores", function () {
  this.timeout(60_000);
  let url: string;
  const opened: Array<{ close(): Promise<void> }> = [];
  const db = 'legacy_cache';

  before(async () => {
    ({ url } = await sharedMongo());
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  /** Two collections written apart, as two memstorage stores were: each holds keys the other lacks, and both hold 'shared'. */
  async function seed(tag: string): Promise<[string, string]> {
    const names: [string, string] = [`first_${tag}_${Date.now()}`, `second_${tag}_${Date.now()}`];
    const first = new MongoStore({ url, db, collectionName: names[0] });
    const second = new MongoStore({ url, db, collectionName: names[1] });
    opened.push(first, second);
    await first.set({ kind: 'user', id: 1 }, 'ada (first)');
    await first.set('shared', 'from the first store');
    await second.set({ kind: 'user', id: 2 }, 'bob (second)');
    await second.set({ kind: 'order', id: 9 }, 'order (second)');
    await second.set('shared', 'from the second store');
    return names;
  }

  it('every get, query, count and key listing is answered from the union; the first store wins a conflict', async () => {
    const [a, b] = await seed('union');
    const store = Store({
      type: 'multi',
      settings: { cache: true, stores: [{ type: 'mongo', settings: { url, db, collectionName: a } }, { type: 'mongo', settings: { url, db, collectionName: b } }] },
    }) as unknown as MultiStore;
    opened.push(store);
    expect(await legacy<boolean>((cb) => store.connect(cb as never))).to.equal(true);
    const users = await legacy<unknown[]>((cb) => store.get({ kind: 'user' }, cb as never));
    expect(users).to.have.members(['ada (first)', 'bob (second)']);
    expect(await legacy((cb) => store.getOne('shared', cb as never))).to.equal('from the first store');
    expect(await legacy((cb) => store.get('shared', cb as never))).to.deep.equal(['from the first store']);
    expect(await legacy((cb) => store.count({ kind: 'user' }, cb as never))).to.equal(2);
    expect(await legacy<unknown[]>((cb) => store.keys(cb as never))).to.have.length(4);
    // Writes go to the cache and to every store; a query delete too.
    await legacy((cb) => store.set({ kind: 'user', id: 3 }, 'cy', cb as never));
    expect(await legacy((cb) => store.del({ kind: 'user' }, cb as never))).to.equal(3);
    const direct = [new MongoStore({ url, db, collectionName: a }), new MongoStore({ url, db, collectionName: b })];
    opened.push(...direct);
    expect(await direct[0].count({ kind: 'user' })).to.equal(0);
    expect(await direct[1].count({ kind: 'user' })).to.equal(0);
    expect(await direct[1].getOne({ kind: 'order', id: 9 })).to.equal('order (second)');
  });

  it('a store that cannot connect fails the connect (the cache would silently lack its keys); an invalidation bus keeps queries on the stores', async () => {
    const [a] = await seed('down');
    const store = Store({
      type: 'multi',
      settings: {
        cache: true,
        connectTimeout: 2_000,
        stores: [
          { type: 'mongo', settings: { url, db, collectionName: a } },
          { type: 'mongo', settings: { url: 'mongodb://127.0.0.1:1/', db, serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 } },
        ],
      },
    }) as unknown as MultiStore;
    opened.push(store);
    const err = await store.connect().then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    expect(err?.code).to.equal('ERR_STORAGE_CONNECTION');
    expect(store.queryTier).to.equal(0);
    // With other processes writing (an invalidation bus), the cache may lose keys: queries stay on the last store.
    const bused = Store.createStore({ type: 'multi', settings: { cache: true, invalidation: { redis: 'redis://127.0.0.1:1' }, stores: [{ type: 'memory' }] } }) as unknown as MultiStore;
    expect(bused.queryTier).to.equal(1);
    const cacheObject = Store.createStore({ type: 'multi', settings: { cache: { ttl: 1000 }, stores: [{ type: 'memory' }] } }) as unknown as MultiStore;
    expect(cacheObject.queryTier).to.equal(1);
  });
});
